#!/usr/bin/env node
// build.mjs — builds the dashboard for embedding in the gateway binary.
//
//   node build.mjs [--out DIR]      (default DIR: ../build/ui-dist, relative to this file)
//
// Writes DIR/index.html and DIR/assets/<name>-<hash>.<ext>: every file but index.html lives under assets/ with
// a content hash in its name, so the server can cache assets forever and only index.html is revalidated.
// The build fails (exit 1) when:
//   - index.html would hold an inline script, a <style> element, a style="" attribute or an on*= handler
//     (the CSP the gateway sends for /ui allows none of them);
//   - the gzip'd JS + CSS exceeds the bundle budget (BUDGET_BYTES, docs/dashboard.md);
//   - the bundle contains eval or new Function (the CSP has no 'unsafe-eval').
// It writes no .gz files: the gateway's build compresses the assets itself.
import * as esbuild from 'esbuild';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(HERE, 'src');
/** The bundle budget: gzip'd JS + CSS, in bytes. */
export const BUDGET_BYTES = 150 * 1024;

function parseArgs(argv) {
  const args = { out: path.join(HERE, '..', 'build', 'ui-dist') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1]) args.out = path.resolve(argv[++i]);
    else if (argv[i].startsWith('--out=')) args.out = path.resolve(argv[i].slice(6));
    else {
      console.error(`usage: node build.mjs [--out DIR]  (unknown argument ${argv[i]})`);
      process.exit(2);
    }
  }
  return args;
}

const fail = (msg) => {
  console.error(`ui build: ${msg}`);
  process.exit(1);
};

/** sha256 of data, as the 8 upper-case base32-ish characters esbuild uses in its names. */
function contentHash(data) {
  return crypto.createHash('sha256').update(data).digest('base64url').replace(/[-_]/g, '').slice(0, 8).toUpperCase();
}

async function main() {
  const { out } = parseArgs(process.argv.slice(2));
  const assets = path.join(out, 'assets');
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(assets, { recursive: true });

  const result = await esbuild.build({
    entryPoints: { app: path.join(SRC, 'main.jsx') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2020'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: assets,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    chunkNames: '[name]-[hash]',
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'eof',
    sourcemap: false,
    metafile: true,
    logLevel: 'warning',
    absWorkingDir: HERE,
  });
  if (result.errors.length) fail('esbuild failed');

  // name → file for index.html: the entry's JS and CSS, then every file of src/static/ with its hash
  const names = {};
  for (const file of Object.keys(result.metafile.outputs)) {
    const base = path.basename(file);
    const m = /^(.+)-[A-Z0-9]{8}\.(js|css)$/.exec(base);
    if (m) names[`${m[1]}.${m[2]}`] = base;
  }
  for (const f of fs.readdirSync(path.join(SRC, 'static'))) {
    const data = fs.readFileSync(path.join(SRC, 'static', f));
    const ext = path.extname(f);
    const hashed = `${path.basename(f, ext)}-${contentHash(data)}${ext}`;
    fs.writeFileSync(path.join(assets, hashed), data);
    names[f] = hashed;
  }

  let html = fs.readFileSync(path.join(SRC, 'index.html'), 'utf8');
  html = html.replace(/\{\{([^}]+)\}\}/g, (_, k) => {
    if (!names[k]) fail(`index.html names ${k}, which the build did not produce`);
    return names[k];
  });
  checkHtml(html);
  fs.writeFileSync(path.join(out, 'index.html'), html);

  // the bundle budget and the CSP's no-eval rule
  let total = 0;
  const rows = [];
  for (const f of fs.readdirSync(assets).sort()) {
    const data = fs.readFileSync(path.join(assets, f));
    if (/\.(js|css)$/.test(f)) {
      const gz = zlib.gzipSync(data, { level: 9 }).length;
      total += gz;
      rows.push(`  ${f.padEnd(28)} ${String(data.length).padStart(8)} B  ${String(gz).padStart(7)} B gzip`);
      if (f.endsWith('.js') && /\beval\(|new Function\(/.test(data.toString('utf8')))
        fail(`${f} calls eval or new Function, which the dashboard's CSP refuses`);
    } else rows.push(`  ${f.padEnd(28)} ${String(data.length).padStart(8)} B`);
  }
  console.log(`ui build: ${out}\n${rows.join('\n')}`);
  console.log(`ui build: JS+CSS ${total} B gzip of a ${BUDGET_BYTES} B budget`);
  if (total > BUDGET_BYTES) fail(`bundle budget exceeded: ${total} B gzip > ${BUDGET_BYTES} B`);
}

/** Refuses what the CSP would block, so the page never depends on it. */
function checkHtml(html) {
  const bad = [];
  for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi))
    if (!/\bsrc=/.test(m[1]) || m[2].trim()) bad.push('an inline <script>');
  if (/<style\b/i.test(html)) bad.push('a <style> element');
  if (/\sstyle\s*=/i.test(html)) bad.push('a style attribute');
  if (/\son[a-z]+\s*=/i.test(html)) bad.push('an event-handler attribute');
  if (/\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i.test(html)) bad.push('a reference to another origin');
  if (bad.length) fail(`index.html has ${bad.join(', ')}`);
}

main().catch((e) => fail(e.stack || String(e)));
