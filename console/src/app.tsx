// The shell: sign-in, navigation (hash routes, so no page path ever carries
// data), and the page for the current route.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, getToken, onUnauthorized, setToken, type Role } from './api';
import { ErrorBanner, SessionContext, useId } from './ui';
import { Overview } from './pages/overview';
import { Clusters } from './pages/clusters';
import { Buckets } from './pages/buckets';
import { Objects } from './pages/objects';
import { Balancing } from './pages/balancing';
import { Tokens } from './pages/tokens';

const PAGES = [
  { path: 'overview', title: 'Overview', page: Overview },
  { path: 'clusters', title: 'Clusters', page: Clusters },
  { path: 'buckets', title: 'Buckets', page: Buckets },
  { path: 'objects', title: 'Objects', page: Objects },
  { path: 'balancing', title: 'Load balancing', page: Balancing },
  { path: 'tokens', title: 'Tokens', page: Tokens },
];

function route(): { page: string; arg: string } {
  const h = location.hash.replace(/^#\/?/, '');
  const [page, ...rest] = h.split('/');
  return { page: PAGES.some((p) => p.path === page) ? page : 'overview',
           arg: decodeURIComponent(rest.join('/')) };
}

function SignIn({ onSignedIn }: { onSignedIn: (role: Role) => void }) {
  const [token, setTok] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const id = useId('token');
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      const who = await api<{ role: Role }>('GET', '/v1/whoami', undefined, token.trim());
      setToken(token.trim());
      onSignedIn(who.role);
    } catch (x) {
      setErr(x instanceof ApiError && x.status === 401
        ? new ApiError(401, 'unauthorized', 'The controller refused this token: it is wrong or revoked.', 'token')
        : x);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>fado console</h1>
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h2 id="signin-title">Sign in</h2>
        <p>Use an API token (<code>POST /v1/tokens</code>, or the controller's bootstrap
          token). It is kept in this tab only, until you sign out or close it.</p>
        <label for={id}>API token</label>
        <input id={id} name="token" type="password" autocomplete="off" required
          value={token} onInput={(e) => setTok((e.target as HTMLInputElement).value)}
          aria-invalid={!!err} aria-describedby={err ? `${id}-err` : undefined} />
        <div id={`${id}-err`}><ErrorBanner err={err} /></div>
        <button type="submit" disabled={busy || !token.trim()}>{busy ? 'Checking…' : 'Sign in'}</button>
      </form>
    </main>
  );
}

export function App() {
  const [role, setRole] = useState<Role | null>(null);
  const [checking, setChecking] = useState(!!getToken());
  const [where, setWhere] = useState(route());
  const [err, setErr] = useState<unknown>(null);

  const signOut = () => { setToken(null); setRole(null); };

  useEffect(() => {
    const f = () => setWhere(route());
    window.addEventListener('hashchange', f);
    const off = onUnauthorized(() => { setToken(null); setRole(null); });
    if (getToken()) {
      api<{ role: Role }>('GET', '/v1/whoami').then((w) => setRole(w.role), (e) => setErr(e))
        .finally(() => setChecking(false));
    }
    return () => { window.removeEventListener('hashchange', f); off(); };
  }, []);

  useEffect(() => {
    const p = PAGES.find((x) => x.path === where.page);
    document.title = `${p?.title ?? 'fado'} · fado console`;
  }, [where.page]);

  if (checking) return <main class="signin"><p role="status">Checking the session…</p></main>;
  if (!role) return <><ErrorBanner err={err instanceof ApiError && err.status !== 401 ? err : null} /><SignIn onSignedIn={setRole} /></>;

  const Page = PAGES.find((p) => p.path === where.page)!.page;
  return (
    <SessionContext.Provider value={{ role, signOut }}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <span class="brand">fado</span>
        <nav aria-label="Console pages">
          <ul>
            {PAGES.map((p) => (
              <li><a href={`#/${p.path}`} aria-current={p.path === where.page ? 'page' : undefined}>{p.title}</a></li>
            ))}
          </ul>
        </nav>
        <span class="who">
          <span class={`role role-${role}`} data-role={role}>{role}</span>
          <button type="button" class="link" onClick={signOut}>Sign out</button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <Page arg={where.arg} />
      </main>
    </SessionContext.Provider>
  );
}
