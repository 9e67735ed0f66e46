// Load balancing: the default policy and bucket header, per-bucket
// overrides, the published routes, and the gateways' live counters
// (GET /v1/gateways: the controller fetches each gateway's fado_status).
import { useRef, useState } from 'preact/hooks';
import { api, enc, POLICIES, type Bucket } from '../api';
import { Chart } from '../chart';
import { ErrorBanner, Field, Notice, Pager, ReadOnlyNotice, State, WriteButton, useLoad, usePage, usePoll, useSession } from '../ui';

interface Route { bucket: string; policy: string; version: number; record_body: string;
  endpoints: { address: string; cluster: string; zone: string; weight: number; max_inflight: number }[] }
interface GwEndpoint { addr: string; cluster: string; zone: string; inflight: number; requests: number;
  fails: number; failures: number; ewma_us: number }
interface Gateway { url: string; ok: boolean; error?: string;
  status?: { table_version: number; routes: number; sync: { state: string }; endpoints: GwEndpoint[] } }

function Settings() {
  const s = useLoad(() => api<Record<string, string>>('GET', '/v1/settings'));
  const [form, setForm] = useState<Record<string, string> | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [msg, setMsg] = useState('');
  const { role } = useSession();
  const f = form ?? s.data;
  if (!f) return <ErrorBanner err={s.err} />;
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      await api('PUT', '/v1/settings', { default_policy: f.default_policy, bucket_header: f.bucket_header });
      setMsg('Saved: the gateways get it with the next publication.'); setErr(null); setForm(null); s.reload();
    } catch (x) { setErr(x); setMsg(''); }
  };
  return (
    <form class="card form" onSubmit={save} aria-labelledby="set-h" data-form="settings">
      <h2 id="set-h">Defaults</h2>
      <fieldset disabled={role !== 'admin'}>
        <div class="row">
          <Field label="Default policy" name="default_policy" err={err}>
            {(id, d, inv) => (
              <select id={id} name="default_policy" value={f.default_policy} aria-describedby={d} aria-invalid={inv}
                onChange={(e) => setForm({ ...f, default_policy: (e.target as HTMLSelectElement).value })}>
                {POLICIES.map((p) => <option value={p.value}>{p.label}</option>)}
              </select>
            )}
          </Field>
          <Field label="Match header" name="bucket_header" err={err} hint="The request header that names the bucket.">
            {(id, d, inv) => <input id={id} name="bucket_header" value={f.bucket_header} aria-describedby={d} aria-invalid={inv}
              onInput={(e) => setForm({ ...f, bucket_header: (e.target as HTMLInputElement).value })} />}
          </Field>
        </div>
      </fieldset>
      <ErrorBanner err={err && !(err as any).field ? err : null} />
      {msg && <Notice>{msg}</Notice>}
      <WriteButton type="submit">Save defaults</WriteButton>
    </form>
  );
}

function Override({ b, onSaved }: { b: Bucket; onSaved: (m: string) => void }) {
  const [policy, setPolicy] = useState(b.policy);
  const [err, setErr] = useState<unknown>(null);
  const { role } = useSession();
  const save = async () => {
    try {
      await api('PUT', `/v1/buckets/${enc(b.name)}`, { home_cluster: b.home_cluster, policy,
        placement: b.placement, version: b.version });
      setErr(null); onSaved(`Policy of ${b.name} is now ${policy}.`);
    } catch (x) { setErr(x); }
  };
  return (
    <tr data-override={b.name}>
      <th scope="row">{b.name}</th>
      <td>
        <label class="sr-only" for={`ov-${b.name}`}>Policy for {b.name}</label>
        <select id={`ov-${b.name}`} name={`policy-${b.name}`} value={policy} disabled={role !== 'admin'}
          onChange={(e) => setPolicy((e.target as HTMLSelectElement).value)}>
          {POLICIES.map((p) => <option value={p.value}>{p.value}</option>)}
        </select>
      </td>
      <td><WriteButton onClick={save} disabled={policy === b.policy} label={`Save policy of ${b.name}`}>Save</WriteButton>
        <ErrorBanner err={err} /></td>
    </tr>
  );
}

function Gateways() {
  const hist = useRef<{ t: number[]; rps: number[]; inflight: number[]; last?: { t: number; req: number } }>({ t: [], rps: [], inflight: [] });
  const { data, err } = usePoll(async () => {
    const g = await api<{ items: Gateway[]; configured: boolean }>('GET', '/v1/gateways');
    const now = Date.now() / 1000;
    let req = 0, inflight = 0;
    for (const x of g.items) for (const e of x.status?.endpoints ?? []) { req += e.requests; inflight += e.inflight; }
    const h = hist.current;
    if (h.last && now > h.last.t) {
      h.t = [...h.t, now].slice(-150);
      h.rps = [...h.rps, Math.max(0, (req - h.last.req) / (now - h.last.t))].slice(-150);
      h.inflight = [...h.inflight, inflight].slice(-150);
    }
    h.last = { t: now, req };
    return g;
  }, 2000);
  const h = hist.current;
  return (
    <section aria-labelledby="gw-h">
      <h2 id="gw-h">Gateways (live)</h2>
      <ErrorBanner err={err} />
      {data && !data.configured && <Notice>No gateway configured: start the controller with FADO_GATEWAYS
        set to the gateways' <code>fado_status</code> URLs (docs/console.md).</Notice>}
      {data?.configured && <Chart title="Requests per second, all gateways" times={h.t} values={[h.rps, h.inflight]}
        series={[{ label: 'req/s', color: '#0969da' }, { label: 'in flight', color: '#bf8700' }]} />}
      {data?.items.map((g) => (
        <div class="card" data-gateway={g.url}>
          <h3><code>{g.url}</code> <State state={g.ok ? (g.status?.sync.state ?? 'ok') : 'down'} /></h3>
          {!g.ok ? <p class="reason">Unreachable: {g.error}</p> : (
            <>
              <p>Table version <span data-gw-version>{g.status!.table_version}</span>, {g.status!.routes} routes.</p>
              <div class="table-wrap">
                <table data-table="gateway-endpoints">
                  <caption>Endpoints as this gateway balances them</caption>
                  <thead><tr><th scope="col">Endpoint</th><th scope="col">Cluster</th><th scope="col">Zone</th><th scope="col">In flight</th>
                    <th scope="col">Requests</th><th scope="col">Failures</th><th scope="col">Latency (EWMA)</th></tr></thead>
                  <tbody>{g.status!.endpoints.map((e) => (
                    <tr data-endpoint={e.addr}><th scope="row"><code>{e.addr}</code></th><td>{e.cluster}</td><td>{e.zone}</td>
                      <td>{e.inflight}</td><td data-requests>{e.requests}</td><td>{e.failures}</td><td>{(e.ewma_us / 1000).toFixed(2)} ms</td></tr>))}</tbody>
                </table>
              </div>
            </>
          )}
        </div>
      ))}
    </section>
  );
}

export function Balancing(_: { arg: string }) {
  const buckets = usePage<Bucket>('/v1/buckets', 50);
  const routes = usePage<Route>('/v1/routes', 50);
  const [msg, setMsg] = useState('');
  return (
    <>
      <h1>Load balancing</h1>
      <ReadOnlyNotice />
      <Settings />
      <section class="card" aria-labelledby="ov-h">
        <h2 id="ov-h">Per-bucket policy</h2>
        {msg && <Notice>{msg}</Notice>}
        <ErrorBanner err={buckets.err} />
        <div class="table-wrap">
          <table data-table="overrides">
            <caption>"-" follows the default</caption>
            <thead><tr><th scope="col">Bucket</th><th scope="col">Policy</th><th scope="col">Action</th></tr></thead>
            <tbody>{(buckets.items ?? []).map((b) => <Override key={`${b.name}-${b.version}`} b={b} onSaved={(m) => { setMsg(m); buckets.reload(); routes.reload(); }} />)}</tbody>
          </table>
        </div>
        <Pager label="Bucket pages" p={buckets} />
      </section>
      <section class="card" aria-labelledby="rt-h">
        <h2 id="rt-h">Published routes <button type="button" class="link" onClick={routes.reload}>Refresh</button></h2>
        <ErrorBanner err={routes.err} />
        <div class="table-wrap">
          <table data-table="routes">
            <caption>What the gateways route with (from Redis, as published)</caption>
            <thead><tr><th scope="col">Bucket</th><th scope="col">Version</th><th scope="col">Policy</th><th scope="col">Endpoints</th><th scope="col">Raw record</th></tr></thead>
            <tbody>{(routes.items ?? []).map((r) => (
              <tr data-route={r.bucket || '_default'}><th scope="row">{r.bucket || '(default route)'}</th><td>{r.version}</td>
                <td><code data-route-policy>{r.policy}</code></td>
                <td>{r.endpoints.map((e) => `${e.address} (${e.cluster})`).join(', ') || 'none'}</td>
                <td><code class="raw">{r.record_body}</code></td></tr>))}</tbody>
          </table>
        </div>
        <Pager label="Route pages" p={routes} />
      </section>
      <Gateways />
    </>
  );
}
