// Objects through the unified object API: browse by prefix a page at a
// time, upload (streamed by the browser, with progress), download (from a
// ready replica, nearest the chosen zone), delete, and where each version is.
import { useEffect, useState } from 'preact/hooks';
import { all, api, download, enc, objectPath, upload, type Bucket, type Page } from '../api';
import { ErrorBanner, Field, Notice, ReadOnlyNotice, WriteButton, bytes, confirmAction, useLoad, useSession } from '../ui';

interface Obj {
  key: string; size: number; etag: string; version_id: string; content_type: string;
  last_modified: string; locations: string[]; replication_status: string;
}
interface Meta {
  key: string; version_id: string; size: number; etag: string; content_type: string;
  last_modified: string; replication_status: string;
  locations: { cluster: string; zone: string; home: boolean; present: boolean; replica_state: string }[];
}

const PAGE = 50;

export function Objects({ arg }: { arg: string }) {
  const buckets = useLoad(() => all<Bucket>('/v1/buckets'));
  const zones = useLoad(() => all<{ name: string }>('/v1/zones'));
  const [bucket, setBucket] = useState(arg);
  const [prefix, setPrefix] = useState('');
  const [applied, setApplied] = useState('');
  const [cursors, setCursors] = useState<string[]>(['']);   // the start of each page seen
  const [page, setPage] = useState<Page<Obj> | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [msg, setMsg] = useState('');
  const [meta, setMeta] = useState<Meta | null>(null);
  const [zone, setZone] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [key, setKey] = useState('');
  const [progress, setProgress] = useState<{ loaded: number; total: number } | null>(null);
  const [n, setN] = useState(0);
  const { role } = useSession();

  useEffect(() => { if (!bucket && buckets.data?.length) setBucket(buckets.data[0].name); }, [buckets.data]);
  useEffect(() => { setCursors(['']); setMeta(null); }, [bucket, applied]);

  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    if (!bucket) return;
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (applied) q.set('prefix', applied);
    if (cursor) q.set('cursor', cursor);
    api<Page<Obj>>('GET', `/v1/buckets/${enc(bucket)}/objects?${q}`)
      .then((p) => { setPage(p); setErr(null); }, (e) => { setPage(null); setErr(e); });
  }, [bucket, applied, cursor, n]);

  const refresh = () => setN((x) => x + 1);

  const doUpload = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    const k = key.trim() || `${applied}${file.name}`;
    setProgress({ loaded: 0, total: file.size });
    try {
      const r = await upload(bucket, k, file, (loaded, total) => setProgress({ loaded, total }));
      setMsg(`Uploaded ${r.key} (${bytes(r.size)}) to ${r.cluster}, version ${r.version_id || '-'}.`);
      setErr(null); setFile(null); setKey('');
      const input = document.querySelector<HTMLInputElement>('input[name=file]');
      if (input) input.value = '';
      refresh();
    } catch (x) { setErr(x); } finally { setProgress(null); }
  };
  const doDownload = async (k: string, versionId?: string) => {
    try {
      const r = await download(bucket, k, versionId, zone || undefined);
      setMsg(`Downloaded ${k} (${bytes(r.size)}), served by ${r.cluster}.`);
      setErr(null);
    } catch (x) { setErr(x); }
  };
  const doDelete = async (k: string) => {
    if (!confirmAction(`Delete ${k}? The home writes a delete marker, replicated everywhere; earlier versions stay.`)) return;
    try { await api('DELETE', objectPath(bucket, k)); setMsg(`Deleted ${k}.`); setMeta(null); refresh(); }
    catch (x) { setErr(x); }
  };
  const details = async (k: string) => {
    try { setMeta(await api<Meta>('GET', `${objectPath(bucket, k)}?metadata=true`)); setErr(null); }
    catch (x) { setErr(x); }
  };

  return (
    <>
      <h1>Objects</h1>
      <ReadOnlyNotice />
      <div class="card form">
        <div class="row">
          <Field label="Bucket" name="bucket">
            {(id) => (
              <select id={id} name="bucket" value={bucket} onChange={(e) => { setBucket((e.target as HTMLSelectElement).value); location.hash = `#/objects/${enc((e.target as HTMLSelectElement).value)}`; }}>
                {(buckets.data ?? []).map((b) => <option value={b.name}>{b.name}</option>)}
              </select>
            )}
          </Field>
          <form class="inline" onSubmit={(e) => { e.preventDefault(); setApplied(prefix); }} aria-label="Filter by prefix">
            <Field label="Prefix" name="prefix" err={err}>
              {(id, d, inv) => <input id={id} name="prefix" value={prefix} aria-describedby={d} aria-invalid={inv}
                onInput={(e) => setPrefix((e.target as HTMLInputElement).value)} />}
            </Field>
            <button type="submit">Browse</button>
          </form>
          <Field label="Download from zone" name="zone" hint="Replicas there first, then the home.">
            {(id, d) => (
              <select id={id} name="zone" value={zone} aria-describedby={d} onChange={(e) => setZone((e.target as HTMLSelectElement).value)}>
                <option value="">any</option>
                {(zones.data ?? []).map((z) => <option value={z.name}>{z.name}</option>)}
              </select>
            )}
          </Field>
        </div>
        <form class="inline" onSubmit={doUpload} aria-label="Upload an object" data-form="upload">
          <fieldset disabled={role !== 'admin' || !bucket || !!progress}>
            <div class="row">
              <Field label="File" name="file">
                {(id) => <input id={id} name="file" type="file" onChange={(e) => {
                  const f = (e.target as HTMLInputElement).files?.[0] ?? null;
                  setFile(f); if (f && !key) setKey(`${applied}${f.name}`);
                }} />}
              </Field>
              <Field label="Key" name="key" err={err} hint="Slashes make folders.">
                {(id, d, inv) => <input id={id} name="key" value={key} aria-describedby={d} aria-invalid={inv}
                  onInput={(e) => setKey((e.target as HTMLInputElement).value)} />}
              </Field>
            </div>
          </fieldset>
          <WriteButton type="submit" disabled={!file || !bucket} busy={!!progress}>Upload</WriteButton>
          {progress && (
            <div class="progress">
              <label for="upload-progress">Uploading {bytes(progress.loaded)} of {bytes(progress.total)}</label>
              <progress id="upload-progress" max={progress.total || 1} value={progress.loaded} />
            </div>
          )}
        </form>
      </div>
      <ErrorBanner err={err} />
      {msg && <Notice>{msg}</Notice>}
      {meta && (
        <section class="card" aria-labelledby="meta-h" data-meta={meta.key}>
          <h2 id="meta-h">{meta.key}</h2>
          <p>Version <code data-version>{meta.version_id || '(unversioned)'}</code>, {bytes(meta.size)}, {meta.content_type},
            modified {meta.last_modified}; replication {meta.replication_status}.</p>
          <div class="table-wrap">
            <table data-table="locations">
              <caption>Where this version is, per cluster</caption>
              <thead><tr><th scope="col">Cluster</th><th scope="col">Zone</th><th scope="col">Role</th><th scope="col">Holds this version</th><th scope="col">Replica</th></tr></thead>
              <tbody>{meta.locations.map((l) => (
                <tr data-location={l.cluster} data-present={String(l.present)}><th scope="row">{l.cluster}</th><td>{l.zone}</td><td>{l.home ? 'home' : 'replica'}</td>
                  <td>{l.present ? 'yes' : 'no'}</td><td>{l.replica_state}</td></tr>))}</tbody>
            </table>
          </div>
          <p><button type="button" onClick={() => doDownload(meta.key, meta.version_id)}>Download this version</button>{' '}
            <button type="button" class="link" onClick={() => setMeta(null)}>Close</button></p>
        </section>
      )}
      <div class="table-wrap">
        <table data-table="objects">
          <caption>{bucket ? `Objects in ${bucket}${applied ? ` under "${applied}"` : ''}` : 'Choose a bucket'}</caption>
          <thead><tr><th scope="col">Key</th><th scope="col">Size</th><th scope="col">Modified</th><th scope="col">Version</th>
            <th scope="col">Locations</th><th scope="col">Replication</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {(page?.items ?? []).map((o) => (
              <tr data-object={o.key}>
                <th scope="row">{o.key}</th><td>{bytes(o.size)}</td><td>{o.last_modified}</td>
                <td><code>{o.version_id ? o.version_id.slice(0, 12) : '-'}</code></td>
                <td>{o.locations.join(', ')}</td><td>{o.replication_status}</td>
                <td class="actions">
                  <button type="button" onClick={() => doDownload(o.key)} aria-label={`Download ${o.key}`}>Download</button>
                  <button type="button" onClick={() => details(o.key)} aria-label={`Details of ${o.key}`}>Details</button>
                  <WriteButton danger onClick={() => doDelete(o.key)} label={`Delete ${o.key}`}>Delete</WriteButton>
                </td>
              </tr>
            ))}
            {page?.items.length === 0 && <tr><td colSpan={7}>No objects{applied ? ` under "${applied}"` : ''}.</td></tr>}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Object pages">
        <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>Previous page</button>
        <span>Page {cursors.length}</span>
        <button type="button" disabled={!page?.next_cursor} onClick={() => page?.next_cursor && setCursors([...cursors, page.next_cursor])}>Next page</button>
        <button type="button" class="link" onClick={refresh}>Refresh</button>
      </nav>
    </>
  );
}
