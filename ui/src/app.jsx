// app.jsx — the shell: finds out who is signed in (GET /me), keeps the cookie session fresh while the user is
// active, routes /ui/... to a page and draws the navigation for the user's role.
//
// Signed-out users only reach /ui/login, /ui/signup and /ui/accept; any other path shows the sign-in page
// and returns there afterwards. A 401 from any call while signed in ends the session in the page too and
// shows "Your session has expired — sign in again".
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, setCsrf, setUnauthorizedHandler } from './api.js';
import { navigate, useLocation } from './router.js';
import { SessionContext, rank, useSession } from './session.js';
import { FirstRequest, Link, SecretOnce } from './ui.jsx';
import { Login, Signup, Accept } from './pages/auth.jsx';
import { Overview } from './pages/overview.jsx';
import { Logs } from './pages/logs.jsx';
import { Keys } from './pages/keys.jsx';
import { Providers } from './pages/providers.jsx';
import { Members } from './pages/members.jsx';
import { Settings } from './pages/settings.jsx';
import { Budgets } from './pages/budgets.jsx';
import { Webhooks } from './pages/webhooks.jsx';
import { Audit } from './pages/audit.jsx';
import { Billing } from './pages/billing.jsx';
import { Account } from './pages/account.jsx';

export const EXPIRED = 'Your session has expired — sign in again.';

/** Pages in navigation order: path, title, the least role that can read it. */
const PAGES = [
  { path: '/ui/', title: 'Overview', min: 'viewer', Page: Overview },
  { path: '/ui/logs', title: 'Logs', min: 'viewer', Page: Logs },
  { path: '/ui/keys', title: 'API keys', min: 'member', Page: Keys },
  { path: '/ui/providers', title: 'Providers', min: 'viewer', Page: Providers },
  { path: '/ui/members', title: 'Members & teams', min: 'viewer', Page: Members },
  { path: '/ui/settings', title: 'Settings', min: 'viewer', Page: Settings },
  { path: '/ui/budgets', title: 'Budgets', min: 'viewer', Page: Budgets },
  { path: '/ui/webhooks', title: 'Webhooks', min: 'admin', Page: Webhooks },
  { path: '/ui/audit', title: 'Audit log', min: 'viewer', Page: Audit },
  { path: '/ui/billing', title: 'Billing & plan', min: 'owner', Page: Billing },
  { path: '/ui/account', title: 'Account', min: 'viewer', Page: Account },
];
const PUBLIC_PAGES = { '/ui/login': Login, '/ui/signup': Signup, '/ui/accept': Accept };

function findPage(path) {
  if (path === '/ui' || path === '/ui/') return { page: PAGES[0], sub: '' };
  for (const p of PAGES.slice(1)) {
    if (path === p.path) return { page: p, sub: '' };
    if (path.startsWith(`${p.path}/`)) return { page: p, sub: decodeURIComponent(path.slice(p.path.length + 1)) };
  }
  return null;
}

const REFRESH_EARLY_S = 60; // refresh the cookie this long before it expires (at most)
const REFRESH_UNKNOWN_MS = 60 * 1000; // when the expiry is not known (after a reload): the shortest session
const IDLE_CHECK_MS = 10 * 1000; // how often an idle tab looks again for activity before its session ends

export function App() {
  const loc = useLocation();
  // status: loading | anon | in | down (the gateway did not answer)
  const [auth, setAuth] = useState({ status: 'loading' });
  const [notice, setNotice] = useState(null); // {text, kind} shown on the sign-in page
  const [welcomeKey, setWelcomeKey] = useState(null); // the first API key, right after signup
  const next = useRef(null); // where to go after signing in
  const refreshTimer = useRef(0);
  const active = useRef(false); // user activity since the last refresh

  const signedOut = useCallback((text, kind = 'warn') => {
    clearTimeout(refreshTimer.current);
    setCsrf(null);
    setWelcomeKey(null);
    setAuth({ status: 'anon' });
    setNotice(text ? { text, kind } : null);
  }, []);

  // Refreshes the session a minute before it expires if the user did something since the last refresh;
  // an idle tab is checked again every few seconds until its session runs out, then lets it expire.
  const scheduleRefresh = useCallback((expiresAtS) => {
    clearTimeout(refreshTimer.current);
    const deadline = expiresAtS ? expiresAtS * 1000 : 0;
    const tick = async () => {
      if (!active.current) {
        if (!deadline || Date.now() < deadline - IDLE_CHECK_MS) refreshTimer.current = setTimeout(tick, IDLE_CHECK_MS);
        return;
      }
      active.current = false;
      const r = await api('POST', '/token/refresh');
      if (r.ok) {
        setCsrf(r.data.csrf_token);
        scheduleRefresh(r.data.expires_at);
      }
    };
    // a minute early, or a quarter of the session's lifetime when that is shorter
    const early = deadline ? Math.min(REFRESH_EARLY_S * 1000, (deadline - Date.now()) / 4) : 0;
    const wait = deadline ? Math.max(5000, deadline - early - Date.now()) : REFRESH_UNKNOWN_MS;
    refreshTimer.current = setTimeout(tick, wait);
  }, []);

  /** Called with the body of login, signup, /me or refresh: {user?, orgs?, org, csrf_token, expires_at?}. */
  const signedIn = useCallback(async (answer) => {
    setCsrf(answer.csrf_token);
    let data = answer;
    if (!answer.org || !answer.org.role || !answer.orgs) {
      // signup answers without the role and the org list: ask for them
      const r = await api('GET', '/me');
      if (!r.ok) return;
      data = { ...r.data, csrf_token: r.data.csrf_token || answer.csrf_token, expires_at: answer.expires_at };
      setCsrf(data.csrf_token);
    }
    setAuth((a) => ({
      status: 'in',
      user: data.user || a.user,
      orgs: data.orgs || a.orgs || [],
      org: data.org,
    }));
    setNotice(null);
    active.current = false; // typing the password is not activity in the new session
    scheduleRefresh(data.expires_at);
  }, [scheduleRefresh]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      if (!next.current) next.current = location.pathname + location.search;
      signedOut(EXPIRED);
    });
    const mark = () => {
      active.current = true;
    };
    window.addEventListener('keydown', mark, { passive: true });
    window.addEventListener('pointerdown', mark, { passive: true });
    (async () => {
      const r = await api('GET', '/me', undefined, { noRedirect: true });
      if (r.ok) signedIn(r.data);
      else if (r.status === 401) {
        // no cookie at all is a plain sign-in; a cookie the gateway refused is an expired session
        const fresh = !r.code || /missing/.test(r.code);
        signedOut(fresh ? null : EXPIRED);
      } else setAuth({ status: 'down', err: r });
    })();
    return () => {
      window.removeEventListener('keydown', mark);
      window.removeEventListener('pointerdown', mark);
    };
  }, []);

  const refreshMe = useCallback(async () => {
    const r = await api('GET', '/me');
    if (r.ok) signedIn(r.data);
    return r;
  }, [signedIn]);

  const session = useMemo(() => {
    if (auth.status !== 'in') return null;
    const role = auth.org.role;
    const plan = (auth.orgs.find((o) => o.id === auth.org.id) || {}).plan || 'free';
    return {
      user: auth.user,
      org: auth.org,
      orgs: auth.orgs,
      role,
      plan,
      can: (min) => rank(role) >= rank(min),
      refreshMe,
      /** after a password change: the same session goes on with a new cookie and CSRF token */
      renewed: (data) => {
        setCsrf(data.csrf_token);
        scheduleRefresh(data.expires_at);
      },
      switchOrg: async (orgId) => {
        const r = await api('POST', '/token/refresh', { org: orgId });
        if (r.ok) {
          signedIn(r.data);
          navigate('/ui/');
        }
        return r;
      },
      signOut: async () => {
        await api('POST', '/logout');
        signedOut('You have signed out.', 'ok');
        navigate('/ui/login', { replace: true });
      },
      ended: (text) => {
        signedOut(text, 'ok');
        navigate('/ui/login', { replace: true });
      },
    };
  }, [auth, refreshMe, signedIn, signedOut, scheduleRefresh]);

  // keep the URL in line with the auth state
  useEffect(() => {
    if (auth.status === 'anon' && !PUBLIC_PAGES[loc.path]) {
      if (!next.current && loc.path.startsWith('/ui')) next.current = loc.path + loc.search;
      navigate('/ui/login', { replace: true });
    } else if (auth.status === 'in' && PUBLIC_PAGES[loc.path]) {
      const to = next.current && !PUBLIC_PAGES[next.current.split('?')[0]] ? next.current : '/ui/';
      next.current = null;
      navigate(to, { replace: true });
    }
  }, [auth.status, loc.path]);

  // after a navigation, move focus to the new page's heading (not on the first load)
  const firstPath = useRef(loc.path);
  useEffect(() => {
    if (loc.path === firstPath.current) return;
    firstPath.current = null;
    const h = document.getElementById('page-h1');
    if (h) h.focus();
  }, [loc.path, auth.status]);

  if (auth.status === 'loading') return <p class="boot muted" aria-live="polite">Loading…</p>;
  if (auth.status === 'down')
    return (
      <main class="boot" id="main">
        <h1>ingate</h1>
        <p class="err" role="alert">The gateway did not answer: {auth.err.error}</p>
        <button type="button" onClick={() => location.reload()}>Try again</button>
      </main>
    );

  if (auth.status === 'anon') {
    const Page = PUBLIC_PAGES[loc.path] || Login;
    document.title = 'Sign in — ingate';
    return (
      <main class="auth-page" id="main">
        <Page notice={notice} onSignedIn={signedIn} onFirstKey={setWelcomeKey} />
      </main>
    );
  }
  if (PUBLIC_PAGES[loc.path]) return <p class="boot muted">Loading…</p>;

  const found = findPage(loc.path);
  let body;
  if (!found) {
    document.title = 'Not found — ingate';
    body = (
      <>
        <h1 tabindex="-1" id="page-h1">Page not found</h1>
        <p>
          There is no page at <code>{loc.path}</code>. <Link href="/ui/">Go to the overview</Link>.
        </p>
      </>
    );
  } else {
    const { page, sub } = found;
    document.title = `${page.title} — ingate`;
    body = session.can(page.min) ? (
      <page.Page sub={sub} loc={loc} />
    ) : (
      <>
        <h1 tabindex="-1" id="page-h1">{page.title}</h1>
        <p class="readonly-note">
          This page needs the <strong>{page.min}</strong> role; you are <strong>{session.role}</strong>.
        </p>
      </>
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <Shell loc={loc} current={found && found.page}>
        {welcomeKey && (
          <SecretOnce
            id="welcome-key"
            label="Your organisation's first API key"
            value={welcomeKey}
            warning="This key (role member) is shown only this once: copy it now and store it safely. You can create more keys under API keys."
            onDone={() => setWelcomeKey(null)}
          />
        )}
        {welcomeKey && <FirstRequest id="welcome-first-request" />}
        {body}
      </Shell>
    </SessionContext.Provider>
  );
}

function Shell({ loc, current, children }) {
  const s = useSession();
  // the narrow-screen menu is open for the page it was opened on: any navigation closes it
  const [menuFor, setMenuFor] = useState(null);
  const menuOpen = menuFor === loc.path;
  const pages = PAGES.filter((p) => s.can(p.min));
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <button type="button" class="menu-btn" aria-expanded={menuOpen ? 'true' : 'false'} aria-controls="nav"
          onClick={() => setMenuFor(menuOpen ? null : loc.path)}>
          Menu
        </button>
        <Link href="/ui/" class="brand">
          ingate
        </Link>
        <OrgSwitcher />
        <div class="who">
          <span class="email">{s.user.email}</span> <span class={`role role-${s.role}`}>{s.role}</span>
        </div>
        <button type="button" class="signout" onClick={() => s.signOut()}>
          Sign out
        </button>
      </header>
      <nav id="nav" aria-label="Main" class={menuOpen ? 'open' : ''}>
        <ul>
          {pages.map((p) => (
            <li key={p.path}>
              <Link href={p.path} aria-current={current === p ? 'page' : undefined}>
                {p.title}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabindex="-1">
        {children}
      </main>
    </div>
  );
}

function OrgSwitcher() {
  const s = useSession();
  const [err, setErr] = useState(null);
  if (s.orgs.length < 2) return <span class="org-name">{s.org.slug}</span>;
  return (
    <div class="org-switch">
      <label for="org-switch" class="sr-only">
        Organisation
      </label>
      <select id="org-switch" value={s.org.id} onChange={async (e) => {
        const r = await s.switchOrg(e.currentTarget.value);
        setErr(r.ok ? null : r);
      }}>
        {s.orgs.map((o) => (
          <option key={o.id} value={o.id}>
            {o.name} ({o.role})
          </option>
        ))}
      </select>
      {err && <span class="err" role="alert">{err.error}</span>}
    </div>
  );
}
