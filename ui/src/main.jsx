// main.jsx — the dashboard's entry point: styles (uPlot's first, ours override), then the app into #app.
import { render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import './app.css';
import { App } from './app.jsx';

render(<App />, document.getElementById('app'));
