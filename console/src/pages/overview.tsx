// The platform at a glance, from one endpoint (GET /v1/summary, one SQL
// query) polled every two seconds.
import { useRef } from 'preact/hooks';
import { api } from '../api';
import { Chart } from '../chart';
import { ErrorBanner, State, usePoll } from '../ui';

export interface Summary {
  zones: string[];
  clusters: { name: string; zone: string; healthy: boolean; endpoints: number;
              storage_endpoint: string; storage_configured: boolean }[];
  buckets: { total: number; ready: number; syncing: number; unsatisfiable: number; home_unavailable: number };
  replicas: { total: number; pending: number; syncing: number; ready: number; removing: number; failed: number };
  jobs: { queued: number; running: number; retrying: number };
  routes: { published: number; default_route: boolean; version: number; redis_ok: boolean };
  settings: Record<string, string>;
  reconcile_passes: number;
}

const POLL_MS = 2000;
const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
const KEEP = 150;   // five minutes of points

function Counts({ title, counts, order }: { title: string; counts: Record<string, number>; order: string[] }) {
  return (
    <section class="card" aria-labelledby={`c-${title}`}>
      <h2 id={`c-${title}`}>{title}</h2>
      <dl class="counts">
        {order.map((k) => (
          <div data-count={k}><dt><State state={k} /></dt><dd>{counts[k] ?? 0}</dd></div>
        ))}
      </dl>
    </section>
  );
}

export function Overview(_: { arg: string }) {
  const hist = useRef<{ t: number[]; ready: number[]; other: number[]; jobs: number[] }>(
    { t: [], ready: [], other: [], jobs: [] });
  const { data: s, err } = usePoll(async () => {
    const d = await api<Summary>('GET', '/v1/summary');
    const h = hist.current;
    h.t = [...h.t, Date.now() / 1000].slice(-KEEP);
    h.ready = [...h.ready, d.replicas.ready].slice(-KEEP);
    h.other = [...h.other, d.replicas.total - d.replicas.ready].slice(-KEEP);
    h.jobs = [...h.jobs, d.jobs.queued + d.jobs.running].slice(-KEEP);
    return d;
  }, POLL_MS);

  const zones: Record<string, Summary['clusters']> = {};
  for (const c of s?.clusters ?? []) (zones[c.zone] ??= []).push(c);
  const h = hist.current;

  return (
    <>
      <h1>Overview</h1>
      <ErrorBanner err={err} />
      {!s ? <p role="status">Loading…</p> : (
        <>
          <p class="live" aria-live="polite">
            Live: refreshed every {POLL_MS / 1000} s. {plural(s.zones.length, 'zone')},
            {' '}{plural(s.clusters.length, 'cluster')}, {plural(s.buckets.total, 'bucket')}.
          </p>
          <div class="grid">
            <Counts title="Buckets" counts={s.buckets} order={['ready', 'syncing', 'unsatisfiable', 'home_unavailable']} />
            <Counts title="Replicas" counts={s.replicas} order={['ready', 'pending', 'syncing', 'removing', 'failed']} />
            <Counts title="Jobs" counts={s.jobs} order={['queued', 'running', 'retrying']} />
            <section class="card" aria-labelledby="c-pub">
              <h2 id="c-pub">Publication</h2>
              <dl class="counts">
                <div data-count="redis"><dt>Redis</dt><dd><State state={s.routes.redis_ok ? 'ok' : 'down'} /></dd></div>
                <div data-count="route_version"><dt>Route version</dt><dd>{s.routes.version}</dd></div>
                <div data-count="routes"><dt>Routes published</dt><dd>{s.routes.published}</dd></div>
                <div><dt>Default route</dt><dd>{s.routes.default_route ? 'yes' : 'no'}</dd></div>
                <div><dt>Default policy</dt><dd>{s.settings.default_policy}</dd></div>
              </dl>
            </section>
          </div>
          <Chart title="Replicas (this session)" times={h.t} values={[h.ready, h.other, h.jobs]}
            series={[{ label: 'ready', color: '#1a7f37' }, { label: 'not ready', color: '#bf8700' },
                     { label: 'jobs', color: '#0969da' }]} />
          <h2>Clusters by zone</h2>
          {s.clusters.length === 0 && <p>No clusters yet: add them on the <a href="#/clusters">Clusters</a> page.</p>}
          <div class="grid">
            {Object.keys(zones).sort().map((z) => (
              <section class="card" aria-labelledby={`z-${z}`} data-zone={z}>
                <h3 id={`z-${z}`}>Zone {z}</h3>
                <ul class="plain">
                  {zones[z].map((c) => (
                    <li data-cluster={c.name}>
                      <strong>{c.name}</strong> <State state={c.healthy ? 'healthy' : 'down'} />
                      <br /><small>{c.endpoints} function endpoint{c.endpoints === 1 ? '' : 's'}; storage{' '}
                        {c.storage_configured ? (c.healthy ? 'reachable' : 'unreachable or endpoints down')
                                              : 'not configured'}</small>
                    </li>
                  ))}
                </ul>
              </section>
            ))}
          </div>
        </>
      )}
    </>
  );
}
