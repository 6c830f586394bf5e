// router.js — History API routing under /ui/. The gateway answers index.html for every /ui/ path without a
// file extension, so a deep link or a reload lands on the same page.
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set();

function current() {
  return { path: location.pathname, search: location.search, hash: location.hash };
}

/** Goes to href (a path under /ui/); replace: no new history entry. */
export function navigate(href, { replace = false } = {}) {
  const here = location.pathname + location.search + location.hash;
  if (href !== here) {
    if (replace) history.replaceState(null, '', href);
    else history.pushState(null, '', href);
  }
  const loc = current();
  for (const fn of listeners) fn(loc);
}

window.addEventListener('popstate', () => {
  const loc = current();
  for (const fn of listeners) fn(loc);
});

/** The current location {path, search, hash}, re-rendering on every navigation. */
export function useLocation() {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    listeners.add(setLoc);
    return () => listeners.delete(setLoc);
  }, []);
  return loc;
}
