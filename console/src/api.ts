// The console's only way to the controller: the authenticated /v1 API on
// the same origin. The token lives in sessionStorage (this tab, until it
// closes or signs out), is sent as a bearer header, and never goes into a
// URL, a log line or localStorage.

const TOKEN_KEY = 'fado.token';

export type Role = 'admin' | 'read-only';

export class ApiError extends Error {
  status: number;
  code: string;
  field?: string;
  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

function authHeaders(token?: string): Record<string, string> {
  const t = token ?? getToken();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

async function toError(r: Response): Promise<ApiError> {
  let code = `http_${r.status}`;
  let message = `${r.status} ${r.statusText}`;
  let field: string | undefined;
  try {
    const j = await r.json();
    if (j && j.error) {
      code = j.error.code ?? code;
      message = j.error.message ?? message;
      field = j.error.field;
    }
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(r.status, code, message, field);
}

// Listeners told when the controller refuses the session's token (revoked,
// or the controller's database was reset): the app goes back to sign-in.
const unauthorized = new Set<() => void>();
export function onUnauthorized(f: () => void): () => void {
  unauthorized.add(f);
  return () => unauthorized.delete(f);
}

export async function api<T = any>(method: string, path: string, body?: unknown,
    token?: string): Promise<T> {
  const headers: Record<string, string> = { ...authHeaders(token) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
  });
  if (!r.ok) {
    const e = await toError(r);
    if (r.status === 401 && token === undefined) unauthorized.forEach((f) => f());
    throw e;
  }
  if (r.status === 204) return undefined as T;
  return (await r.json()) as T;
}

export function enc(s: string): string {
  return encodeURIComponent(s);
}

// An object key keeps its slashes in the path (the API takes them as is).
export function objectPath(bucket: string, key: string): string {
  return `/v1/buckets/${enc(bucket)}/objects/${key.split('/').map(enc).join('/')}`;
}

// Uploads with XMLHttpRequest: the browser streams the file from disk and
// reports progress, which fetch cannot do for request bodies.
export function upload(bucket: string, key: string, file: Blob,
    onProgress: (loaded: number, total: number) => void): Promise<any> {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PUT', objectPath(bucket, key));
    const h = authHeaders();
    for (const k of Object.keys(h)) x.setRequestHeader(k, h[k]);
    if (file.type) x.setRequestHeader('Content-Type', file.type);
    x.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    x.onerror = () => reject(new ApiError(0, 'network', 'the upload was cut off'));
    x.onload = () => {
      let j: any = null;
      try { j = JSON.parse(x.responseText); } catch { /* empty */ }
      if (x.status >= 200 && x.status < 300) resolve(j);
      else reject(new ApiError(x.status, j?.error?.code ?? `http_${x.status}`,
                               j?.error?.message ?? `HTTP ${x.status}`, j?.error?.field));
    };
    x.send(file);
  });
}

// Downloads through the API (the token cannot go in a link's URL), then
// hands the bytes to the browser as a file. Returns who served it.
export async function download(bucket: string, key: string, versionId?: string,
    zone?: string): Promise<{ cluster: string; size: number }> {
  const q = new URLSearchParams();
  if (versionId) q.set('version_id', versionId);
  if (zone) q.set('zone', zone);
  const qs = q.toString();
  const r = await fetch(objectPath(bucket, key) + (qs ? `?${qs}` : ''), {
    headers: authHeaders(), cache: 'no-store', credentials: 'omit',
  });
  if (!r.ok) throw await toError(r);
  const blob = await r.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = key.split('/').pop() || 'object';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return { cluster: r.headers.get('X-Fado-Cluster') ?? '', size: blob.size };
}

export interface Page<T> { items: T[]; next_cursor: string | null }

export const POLICIES: { value: string; label: string }[] = [
  { value: '-', label: "- (the gateway's configured policy)" },
  { value: 'rr', label: 'rr: weighted round robin' },
  { value: 'lc', label: 'lc: least connections' },
  { value: 'p2c', label: 'p2c: random, two choices' },
  { value: 'ewma', label: 'ewma: latency-aware' },
  { value: 'chash', label: 'chash: consistent hash, bounded load' },
  { value: 'random', label: 'random: weighted random' },
  { value: 'first', label: 'first: the first endpoint that can take it, in order' },
];

export interface Cluster {
  name: string; zone: string; healthy: boolean; version: number;
  functions: { address: string; weight: number; max_inflight: number }[];
  storage: { endpoint: string; credentials_set: boolean };
}

export interface Bucket {
  name: string; home_cluster: string; policy: string; version: number;
  placement: { allowed_zones: string[]; replicas: number; pinned_clusters: string[] };
  placement_result: { satisfiable: boolean | null; clusters: string[]; reason: string };
  replicas: { cluster: string; state: string; reason: string }[];
}

// Every page of a list (the console's lists are small: zones, clusters).
export async function all<T>(path: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const p: Page<T> = await api('GET', `${path}?limit=1000${cursor ? `&cursor=${enc(cursor)}` : ''}`);
    out.push(...p.items);
    if (!p.next_cursor) break;
    cursor = p.next_cursor;
  }
  return out;
}
