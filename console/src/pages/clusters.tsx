// Zones, clusters, their function endpoints and storage. Updates carry the
// version they were read at, so a concurrent edit is a 409 shown as a
// conflict; storage credentials are write-only ("set" is all one sees).
import { useState } from 'preact/hooks';
import { all, api, enc, type Cluster } from '../api';
import { ErrorBanner, Field, Notice, ReadOnlyNotice, State, WriteButton, confirmAction, useLoad, useSession } from '../ui';

interface Fn { address: string; weight: string; max_inflight: string }
interface Form {
  name: string; zone: string; functions: Fn[];
  endpoint: string; access_key: string; secret_key: string; version: number;
  credentials_set: boolean;
}

const emptyForm = (zone = ''): Form => ({
  name: '', zone, functions: [], endpoint: '', access_key: '', secret_key: '', version: 0,
  credentials_set: false,
});

function toForm(c: Cluster): Form {
  return {
    name: c.name, zone: c.zone, version: c.version, credentials_set: c.storage.credentials_set,
    functions: c.functions.map((f) => ({ address: f.address, weight: String(f.weight),
                                         max_inflight: String(f.max_inflight) })),
    endpoint: c.storage.endpoint, access_key: '', secret_key: '',
  };
}

function toBody(f: Form, create: boolean) {
  const num = (s: string) => (/^-?\d+$/.test(s.trim()) ? Number(s) : s);
  const body: any = {
    zone: f.zone,
    functions: f.functions.map((x) => ({ address: x.address.trim(), weight: num(x.weight || '1'),
                                         max_inflight: num(x.max_inflight || '0') })),
  };
  if (create) body.name = f.name.trim();
  else body.version = f.version;
  if (f.endpoint.trim()) {
    body.storage = { endpoint: f.endpoint.trim() };
    if (f.access_key || f.secret_key) {
      body.storage.access_key = f.access_key;
      body.storage.secret_key = f.secret_key;
    }
  }
  return body;
}

function Zones({ zones, reload }: { zones: { name: string }[]; reload: () => void }) {
  const { role } = useSession();
  const [name, setName] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const add = async (e: Event) => {
    e.preventDefault();
    try {
      await api('POST', '/v1/zones', { name: name.trim() });
      setName(''); setErr(null); reload();
    } catch (x) { setErr(x); }
  };
  const del = async (z: string) => {
    if (!confirmAction(`Delete zone ${z}? Only a zone no cluster uses can go.`)) return;
    try { await api('DELETE', `/v1/zones/${enc(z)}`); setErr(null); reload(); } catch (x) { setErr(x); }
  };
  return (
    <section aria-labelledby="zones-h" class="card">
      <h2 id="zones-h">Zones</h2>
      <ul class="chips">
        {zones.map((z) => (
          <li data-zone={z.name}>{z.name}{' '}
            <WriteButton label={`Delete zone ${z.name}`} onClick={() => del(z.name)} danger>×</WriteButton></li>
        ))}
        {zones.length === 0 && <li>none yet</li>}
      </ul>
      <form class="inline" onSubmit={add} aria-label="Add a zone">
        <Field label="New zone" name="name" err={err}>
          {(id, d, inv) => <input id={id} name="zone-name" value={name} aria-describedby={d} aria-invalid={inv}
            disabled={role !== 'admin'} onInput={(e) => setName((e.target as HTMLInputElement).value)} />}
        </Field>
        <WriteButton type="submit">Add zone</WriteButton>
      </form>
      {!fieldErrShown(err) && <ErrorBanner err={err} />}
    </section>
  );
}

const fieldErrShown = (err: any) => !!err?.field && err.status === 400;

function ClusterForm({ initial, zones, onDone, onCancel, onReload }: {
  initial: Form; zones: string[]; onDone: () => void; onCancel: () => void; onReload: () => void;
}) {
  const [f, setF] = useState<Form>(initial);
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const { role } = useSession();
  const create = initial.version === 0;
  const ro = role !== 'admin';
  const set = (k: keyof Form) => (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement).value });
  const setFn = (i: number, k: keyof Fn, v: string) =>
    setF({ ...f, functions: f.functions.map((x, j) => (j === i ? { ...x, [k]: v } : x)) });

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      if (create) await api('POST', '/v1/clusters', toBody(f, true));
      else await api('PUT', `/v1/clusters/${enc(f.name)}`, toBody(f, false));
      setErr(null);
      onDone();
    } catch (x) { setErr(x); } finally { setBusy(false); }
  };

  return (
    <form class="card form" onSubmit={save} aria-labelledby="cf-h" data-form="cluster">
      <h2 id="cf-h">{create ? 'New cluster' : `Edit cluster ${f.name}`}{!create && <small> (version {f.version})</small>}</h2>
      <fieldset disabled={ro}>
        {create && (
          <Field label="Name" name="name" err={err}>
            {(id, d, inv) => <input id={id} name="name" required value={f.name} onInput={set('name')} aria-describedby={d} aria-invalid={inv} />}
          </Field>
        )}
        <Field label="Zone" name="zone" err={err}>
          {(id, d, inv) => (
            <select id={id} name="zone" value={f.zone} onChange={set('zone')} aria-describedby={d} aria-invalid={inv}>
              <option value="">choose a zone</option>
              {zones.map((z) => <option value={z}>{z}</option>)}
            </select>
          )}
        </Field>
        <fieldset class="group">
          <legend>Function endpoints (FaaS deployment)</legend>
          {f.functions.map((fn, i) => (
            <div class="row" data-fn={i}>
              <Field label={`Address ${i + 1}`} name={`functions[${i}].address`} err={err} hint={i === 0 ? 'IPv4:port, [IPv6]:port or http://address:port' : undefined}>
                {(id, d, inv) => <input id={id} name={`fn-address-${i}`} value={fn.address} aria-describedby={d} aria-invalid={inv}
                  onInput={(e) => setFn(i, 'address', (e.target as HTMLInputElement).value)} />}
              </Field>
              <Field label="Weight" name={`functions[${i}].weight`} err={err}>
                {(id, d, inv) => <input id={id} name={`fn-weight-${i}`} inputMode="numeric" size={5} value={fn.weight} aria-describedby={d} aria-invalid={inv}
                  onInput={(e) => setFn(i, 'weight', (e.target as HTMLInputElement).value)} />}
              </Field>
              <Field label="Max in flight" name={`functions[${i}].max_inflight`} err={err}>
                {(id, d, inv) => <input id={id} name={`fn-max-${i}`} inputMode="numeric" size={5} value={fn.max_inflight} aria-describedby={d} aria-invalid={inv}
                  onInput={(e) => setFn(i, 'max_inflight', (e.target as HTMLInputElement).value)} />}
              </Field>
              <button type="button" class="link" aria-label={`Remove endpoint ${i + 1}`}
                onClick={() => setF({ ...f, functions: f.functions.filter((_, j) => j !== i) })}>Remove</button>
            </div>
          ))}
          <button type="button" onClick={() => setF({ ...f, functions: [...f.functions, { address: '', weight: '1', max_inflight: '0' }] })}>
            Add an endpoint</button>
        </fieldset>
        <fieldset class="group">
          <legend>Storage deployment (MinIO)</legend>
          <Field label="Endpoint URL" name="storage.endpoint" err={err} hint="http:// or https://">
            {(id, d, inv) => <input id={id} name="storage-endpoint" type="url" value={f.endpoint} onInput={set('endpoint')} aria-describedby={d} aria-invalid={inv} />}
          </Field>
          <Field label="Access key" name="storage.access_key" err={err}
            hint={f.credentials_set ? 'Set. Leave both keys empty to keep the stored ones.' : 'Write-only: never shown again.'}>
            {(id, d, inv) => <input id={id} name="access-key" autocomplete="off" value={f.access_key} onInput={set('access_key')}
              placeholder={f.credentials_set ? '(set)' : ''} aria-describedby={d} aria-invalid={inv} />}
          </Field>
          <Field label="Secret key" name="storage.secret_key" err={err}>
            {(id, d, inv) => <input id={id} name="secret-key" type="password" autocomplete="new-password" value={f.secret_key}
              onInput={set('secret_key')} placeholder={f.credentials_set ? '(set)' : ''} aria-describedby={d} aria-invalid={inv} />}
          </Field>
        </fieldset>
      </fieldset>
      <ErrorBanner err={err} onReload={onReload} />
      <div class="actions">
        <WriteButton type="submit" busy={busy}>{create ? 'Create cluster' : 'Save changes'}</WriteButton>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

export function Clusters(_: { arg: string }) {
  const zones = useLoad(() => all<{ name: string }>('/v1/zones'));
  const clusters = useLoad(() => all<Cluster>('/v1/clusters'));
  const [editing, setEditing] = useState<Form | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [msg, setMsg] = useState('');
  const zoneNames = (zones.data ?? []).map((z) => z.name);

  const edit = async (name: string) => {
    setMsg('');
    try {
      // Read it again: the form starts from the version stored now.
      setEditing(toForm(await api<Cluster>('GET', `/v1/clusters/${enc(name)}`)));
      setErr(null);
    } catch (x) { setErr(x); }
  };
  const del = async (name: string) => {
    if (!confirmAction(`Delete cluster ${name}? Buckets homed there must move first.`)) return;
    try { await api('DELETE', `/v1/clusters/${enc(name)}`); setMsg(`Cluster ${name} deleted.`); clusters.reload(); }
    catch (x) { setErr(x); }
  };

  return (
    <>
      <h1>Clusters</h1>
      <ReadOnlyNotice />
      <ErrorBanner err={err || clusters.err || zones.err} />
      {msg && <Notice>{msg}</Notice>}
      <Zones zones={zones.data ?? []} reload={zones.reload} />
      {editing ? (
        <ClusterForm key={`${editing.name}-${editing.version}`} initial={editing} zones={zoneNames}
          onCancel={() => setEditing(null)} onReload={() => { edit(editing.name); clusters.reload(); }}
          onDone={() => { setMsg(editing.version ? `Cluster ${editing.name} saved.` : 'Cluster created.'); setEditing(null); clusters.reload(); }} />
      ) : (
        <p><WriteButton onClick={() => { setMsg(''); setEditing(emptyForm(zoneNames[0] ?? '')); }}>New cluster</WriteButton></p>
      )}
      <div class="table-wrap">
        <table data-table="clusters">
          <caption>Clusters: FaaS deployments and storage deployments</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Zone</th><th scope="col">Health</th>
            <th scope="col">Function endpoints</th><th scope="col">Storage</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {(clusters.data ?? []).map((c) => (
              <tr data-cluster={c.name}>
                <th scope="row">{c.name}</th>
                <td>{c.zone}</td>
                <td><State state={c.healthy ? 'healthy' : 'down'} /></td>
                <td>{c.functions.length === 0 ? 'none' : (
                  <ul class="plain">{c.functions.map((f) => <li><code>{f.address}</code> w{f.weight}{f.max_inflight ? `, max ${f.max_inflight}` : ''}</li>)}</ul>)}</td>
                <td>{c.storage.endpoint ? (
                  <>
                    <a href={c.storage.endpoint} target="_blank" rel="noopener noreferrer"
                      title="MinIO sends a browser at its API address to its console">
                      {c.storage.endpoint} (MinIO console)</a>
                    <br /><small>credentials: {c.storage.credentials_set ? 'set' : 'not set'}</small>
                  </>) : 'none'}</td>
                <td class="actions">
                  <button type="button" onClick={() => edit(c.name)} aria-label={`Edit cluster ${c.name}`}>Edit</button>
                  <WriteButton danger onClick={() => del(c.name)} label={`Delete cluster ${c.name}`}>Delete</WriteButton>
                </td>
              </tr>
            ))}
            {clusters.data?.length === 0 && <tr><td colSpan={6}>No clusters yet.</td></tr>}
          </tbody>
        </table>
      </div>
    </>
  );
}
