// Buckets: placement (allowed zones, replica count, pinned clusters) and
// policy, previewed before saving (POST /v1/placement/preview runs the
// placement engine and writes nothing); replica states with their reasons;
// the route the gateways use.
import { useEffect, useState } from 'preact/hooks';
import { all, api, ApiError, enc, POLICIES, type Bucket, type Cluster } from '../api';
import { ErrorBanner, Field, Notice, Pager, ReadOnlyNotice, State, WriteButton, confirmAction, useLoad, usePage, useSession } from '../ui';

interface Preview {
  satisfiable: boolean; reason: string; exists: boolean;
  clusters: { name: string; zone: string; healthy: boolean; why: string }[];
  current: { cluster: string; state: string; reason: string }[];
  add: string[]; remove: string[]; keep: string[];
}

interface Form {
  name: string; home_cluster: string; allowed_zones: string[]; replicas: string;
  pinned_clusters: string[]; policy: string; version: number;
}

function bodyOf(f: Form) {
  const n = /^\d+$/.test(f.replicas.trim()) ? Number(f.replicas) : f.replicas;
  return {
    name: f.name.trim(), home_cluster: f.home_cluster, policy: f.policy,
    placement: { allowed_zones: f.allowed_zones, replicas: n, pinned_clusters: f.pinned_clusters },
    ...(f.version ? { version: f.version } : {}),
  };
}

export function bucketState(b: Bucket, clusters: Cluster[]): string {
  if (b.placement_result.satisfiable === false) return 'unsatisfiable';
  const home = clusters.find((c) => c.name === b.home_cluster);
  if (home && !home.healthy) return 'home_unavailable';
  const kept = b.replicas.filter((r) => r.state !== 'removing');
  return kept.length > 0 && kept.every((r) => r.state === 'ready') ? 'ready' : 'syncing';
}

function Checks({ legend, options, value, onChange, name, err }: {
  legend: string; options: string[]; value: string[]; onChange: (v: string[]) => void; name: string; err: unknown;
}) {
  const msg = err instanceof ApiError && err.field === name ? err.message : '';
  return (
    <fieldset class={`group checks${msg ? ' invalid' : ''}`} data-field={name}>
      <legend>{legend}</legend>
      {options.map((o) => (
        <label class="check"><input type="checkbox" name={`${name}-${o}`} checked={value.includes(o)}
          onChange={(e) => onChange((e.target as HTMLInputElement).checked ? [...value, o] : value.filter((x) => x !== o))} /> {o}</label>
      ))}
      {options.length === 0 && <span>none defined</span>}
      {msg && <small class="field-error" role="alert">{name}: {msg}</small>}
    </fieldset>
  );
}

function PreviewView({ p }: { p: Preview }) {
  return (
    <section class={`preview ${p.satisfiable ? 'ok' : 'bad'}`} aria-live="polite" aria-labelledby="pv-h" data-preview={p.satisfiable ? 'satisfiable' : 'unsatisfiable'}>
      <h3 id="pv-h">Placement preview: {p.satisfiable ? 'satisfiable' : 'not satisfiable'}</h3>
      {!p.satisfiable && <p class="reason">{p.reason}</p>}
      <p>Would hold it: {p.clusters.length === 0 ? 'no cluster' : p.clusters.map((c) => (
        <span class="chip" data-preview-cluster={c.name}>{c.name} <small>({c.zone}, {c.why}{c.healthy ? '' : ', down'})</small></span>))}</p>
      {p.exists ? (
        <ul class="plain">
          <li>Adds: <span data-preview-add>{p.add.join(', ') || 'nothing'}</span></li>
          <li>Leaves the placement (replication there stops; its MinIO keeps the data): <span data-preview-remove>{p.remove.join(', ') || 'nothing'}</span></li>
          <li>Keeps: {p.keep.join(', ') || 'nothing'}</li>
        </ul>
      ) : <p>A new bucket: every replica above is created.</p>}
    </section>
  );
}

function BucketForm({ initial, clusters, zones, onDone, onCancel, onReload }: {
  initial: Form; clusters: Cluster[]; zones: string[]; onDone: (name: string) => void; onCancel: () => void;
  onReload: () => void;
}) {
  const [f, setF] = useState(initial);
  const [err, setErr] = useState<unknown>(null);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [pErr, setPErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const { role } = useSession();
  const ro = role !== 'admin';
  const create = initial.version === 0;

  // The preview follows the form (debounced): what saving would do.
  useEffect(() => {
    if (ro || !f.name.trim() || !f.home_cluster) { setPreview(null); return; }
    const t = setTimeout(() => {
      api<Preview>('POST', '/v1/placement/preview', bodyOf(f))
        .then((p) => { setPreview(p); setPErr(null); }, (e) => { setPreview(null); setPErr(e); });
    }, 250);
    return () => clearTimeout(t);
  }, [JSON.stringify(bodyOf(f)), ro]);

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      if (create) await api('POST', '/v1/buckets', bodyOf(f));
      else await api('PUT', `/v1/buckets/${enc(initial.name)}`, bodyOf(f));
      setErr(null);
      onDone(f.name.trim());
    } catch (x) { setErr(x); } finally { setBusy(false); }
  };
  const set = (k: keyof Form) => (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement).value });

  return (
    <form class="card form" onSubmit={save} aria-labelledby="bf-h" data-form="bucket">
      <h2 id="bf-h">{create ? 'New bucket' : `Edit bucket ${f.name}`}{!create && <small> (version {f.version})</small>}</h2>
      <fieldset disabled={ro}>
        {create && (
          <Field label="Name" name="name" err={err} hint="3-63 characters of a-z, 0-9, '.', '-'">
            {(id, d, inv) => <input id={id} name="name" required value={f.name} onInput={set('name')} aria-describedby={d} aria-invalid={inv} />}
          </Field>
        )}
        <Field label="Home cluster" name="home_cluster" err={err} hint="Where uploads go; always holds a replica.">
          {(id, d, inv) => (
            <select id={id} name="home_cluster" value={f.home_cluster} onChange={set('home_cluster')} aria-describedby={d} aria-invalid={inv}>
              <option value="">choose a cluster</option>
              {clusters.map((c) => <option value={c.name}>{c.name} ({c.zone})</option>)}
            </select>
          )}
        </Field>
        <Checks legend="Allowed zones (none: any zone)" name="placement.allowed_zones" options={zones}
          value={f.allowed_zones} onChange={(v) => setF({ ...f, allowed_zones: v })} err={err} />
        <Field label="Replicas (home included)" name="placement.replicas" err={err}>
          {(id, d, inv) => <input id={id} name="replicas" inputMode="numeric" size={4} value={f.replicas} onInput={set('replicas')} aria-describedby={d} aria-invalid={inv} />}
        </Field>
        <Checks legend="Pinned clusters (manual replica locations)" name="placement.pinned_clusters"
          options={clusters.map((c) => c.name)} value={f.pinned_clusters}
          onChange={(v) => setF({ ...f, pinned_clusters: v })} err={err} />
        <Field label="Balancing policy" name="policy" err={err}>
          {(id, d, inv) => (
            <select id={id} name="policy" value={f.policy} onChange={set('policy')} aria-describedby={d} aria-invalid={inv}>
              {POLICIES.map((p) => <option value={p.value}>{p.label}</option>)}
            </select>
          )}
        </Field>
      </fieldset>
      {preview && <PreviewView p={preview} />}
      {pErr && <div class="preview-error"><ErrorBanner err={pErr} /></div>}
      <ErrorBanner err={err} onReload={onReload} />
      <div class="actions">
        <WriteButton type="submit" busy={busy}>{create ? 'Create bucket' : 'Save placement'}</WriteButton>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

function Detail({ name, clusters }: { name: string; clusters: Cluster[] }) {
  const b = useLoad(() => api<Bucket>('GET', `/v1/buckets/${enc(name)}`), [name]);
  const r = useLoad(() => api('GET', `/v1/routes/${enc(name)}`).catch((e) => {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }), [name]);
  useEffect(() => {
    const t = setInterval(() => { b.reload(); r.reload(); }, 2000);
    return () => clearInterval(t);
  }, [name]);
  if (b.err) return <ErrorBanner err={b.err} />;
  if (!b.data) return <p role="status">Loading {name}…</p>;
  const d = b.data;
  return (
    <section class="card" aria-labelledby="bd-h" data-bucket-detail={name}>
      <h2 id="bd-h">Bucket {name} <State state={bucketState(d, clusters)} /></h2>
      <p>Home {d.home_cluster}; {d.placement.replicas} replica{d.placement.replicas === 1 ? '' : 's'};
        zones {d.placement.allowed_zones.join(', ') || 'any'}; pinned {d.placement.pinned_clusters.join(', ') || 'none'};
        policy <code>{d.policy}</code>.</p>
      {d.placement_result.satisfiable === false && <p class="reason">Unsatisfiable: {d.placement_result.reason}</p>}
      <div class="table-wrap">
        <table data-table="replicas">
          <caption>Replicas</caption>
          <thead><tr><th scope="col">Cluster</th><th scope="col">State</th><th scope="col">Reason</th></tr></thead>
          <tbody>
            {d.replicas.map((x) => <tr data-replica={x.cluster} data-state={x.state}><th scope="row">{x.cluster}</th><td><State state={x.state} /></td><td>{x.reason}</td></tr>)}
            {d.replicas.length === 0 && <tr><td colSpan={3}>No replica yet (placement runs within a second).</td></tr>}
          </tbody>
        </table>
      </div>
      <h3>Route the gateways use</h3>
      {r.err ? <ErrorBanner err={r.err} /> : !r.data ? <p>No route published yet.</p> : (
        <div data-route={name}>
          <p>Version <span data-route-version>{r.data.version}</span>, policy <code data-route-policy>{r.data.policy}</code>,
            {' '}{r.data.endpoints.length} endpoint{r.data.endpoints.length === 1 ? '' : 's'}.</p>
          <ul class="plain">{r.data.endpoints.map((e: any) => <li><code>{e.address}</code> {e.cluster} ({e.zone}) w{e.weight}</li>)}</ul>
          <p><small>Record: <code>{r.data.record_body}</code></small></p>
        </div>
      )}
    </section>
  );
}

export function Buckets({ arg }: { arg: string }) {
  const clusters = useLoad(() => all<Cluster>('/v1/clusters'));
  const zones = useLoad(() => all<{ name: string }>('/v1/zones'));
  const buckets = usePage<Bucket>('/v1/buckets', 100);
  const [editing, setEditing] = useState<Form | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [msg, setMsg] = useState('');
  const cl = clusters.data ?? [];

  useEffect(() => {
    const t = setInterval(() => { buckets.reload(); clusters.reload(); }, 3000);
    return () => clearInterval(t);
  }, []);

  const edit = async (name: string) => {
    setMsg('');
    try {
      const b = await api<Bucket>('GET', `/v1/buckets/${enc(name)}`);
      setEditing({ name: b.name, home_cluster: b.home_cluster, allowed_zones: b.placement.allowed_zones,
                   replicas: String(b.placement.replicas), pinned_clusters: b.placement.pinned_clusters,
                   policy: b.policy, version: b.version });
      setErr(null);
    } catch (x) { setErr(x); }
  };
  const del = async (name: string) => {
    if (!confirmAction(`Stop managing and routing bucket ${name}? MinIO keeps its data.`)) return;
    try { await api('DELETE', `/v1/buckets/${enc(name)}`); setMsg(`Bucket ${name} deleted; its data stays in MinIO.`); buckets.reload(); }
    catch (x) { setErr(x); }
  };

  return (
    <>
      <h1>Buckets</h1>
      <ReadOnlyNotice />
      <ErrorBanner err={err || buckets.err} />
      {msg && <Notice>{msg}</Notice>}
      {editing ? (
        <BucketForm key={`${editing.name}-${editing.version}`} initial={editing} clusters={cl}
          zones={(zones.data ?? []).map((z) => z.name)} onCancel={() => setEditing(null)}
          onReload={() => edit(editing.name)}
          onDone={(n) => { setMsg(`Bucket ${n} saved.`); setEditing(null); buckets.reload(); location.hash = `#/buckets/${enc(n)}`; }} />
      ) : (
        <p><WriteButton onClick={() => { setMsg(''); setEditing({ name: '', home_cluster: cl[0]?.name ?? '', allowed_zones: [], replicas: '1', pinned_clusters: [], policy: '-', version: 0 }); }}>
          New bucket</WriteButton></p>
      )}
      {arg && <Detail name={arg} clusters={cl} />}
      <div class="table-wrap">
        <table data-table="buckets">
          <caption>Buckets</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">State</th><th scope="col">Home</th><th scope="col">Zones</th>
            <th scope="col">Replicas</th><th scope="col">Pinned</th><th scope="col">Policy</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {(buckets.items ?? []).map((b) => (
              <tr data-bucket={b.name}>
                <th scope="row"><a href={`#/buckets/${enc(b.name)}`}>{b.name}</a></th>
                <td><State state={bucketState(b, cl)} /></td>
                <td>{b.home_cluster}</td>
                <td>{b.placement.allowed_zones.join(', ') || 'any'}</td>
                <td>{b.replicas.filter((r) => r.state === 'ready').length}/{b.placement.replicas} ready
                  <br /><small>{b.replicas.map((r) => `${r.cluster}: ${r.state}`).join(', ')}</small></td>
                <td>{b.placement.pinned_clusters.join(', ') || '-'}</td>
                <td><code>{b.policy}</code></td>
                <td class="actions">
                  <button type="button" onClick={() => edit(b.name)} aria-label={`Edit bucket ${b.name}`}>Edit</button>
                  <a class="button" href={`#/objects/${enc(b.name)}`}>Objects</a>
                  <WriteButton danger onClick={() => del(b.name)} label={`Delete bucket ${b.name}`}>Delete</WriteButton>
                </td>
              </tr>
            ))}
            {buckets.items?.length === 0 && <tr><td colSpan={8}>No buckets yet.</td></tr>}
          </tbody>
        </table>
      </div>
      <Pager label="Bucket pages" p={buckets} />
    </>
  );
}
