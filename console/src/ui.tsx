// Shared pieces: the session (role), form fields that show the API's error
// for the field they edit, write buttons that read-only tokens see disabled
// with the reason, and error banners.
import { createContext, type ComponentChildren } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Page, type Role } from './api';

export interface Session { role: Role; signOut: () => void }
export const SessionContext = createContext<Session>({ role: 'read-only', signOut: () => {} });
export const useSession = () => useContext(SessionContext);

export const READ_ONLY_REASON = 'Your token is read-only: it can see everything but change nothing.';

let ids = 0;
export function useId(prefix: string): string {
  const r = useRef<string>('');
  if (!r.current) r.current = `${prefix}-${++ids}`;
  return r.current;
}

// The error a form shows: general, or attached to the field it names.
export function fieldError(err: unknown, field: string): string | undefined {
  if (err instanceof ApiError && err.field && (err.field === field || err.field.startsWith(field + '.')
      || err.field.startsWith(field + '['))) {
    return err.message;
  }
  return undefined;
}

interface FieldProps {
  label: string; name: string; err?: unknown; hint?: string;
  children: (id: string, describedBy: string | undefined, invalid: boolean) => ComponentChildren;
}

export function Field({ label, name, err, hint, children }: FieldProps) {
  const id = useId(name.replace(/[^a-z0-9]/gi, '-'));
  const msg = fieldError(err, name);
  const described = [hint ? `${id}-hint` : '', msg ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field${msg ? ' invalid' : ''}`} data-field={name}>
      <label for={id}>{label}</label>
      {children(id, described, !!msg)}
      {hint && <small id={`${id}-hint`} class="hint">{hint}</small>}
      {msg && <small id={`${id}-err`} class="field-error" role="alert">{name}: {msg}</small>}
    </div>
  );
}

export function ErrorBanner({ err, onReload }: { err: unknown; onReload?: () => void }) {
  if (!err) return null;
  const e = err instanceof ApiError ? err : null;
  const text = e ? e.message : String((err as Error)?.message ?? err);
  return (
    <div class="banner error" role="alert">
      <strong>{e ? (e.status === 409 && e.code === 'version_conflict' ? 'Conflict' : `Error ${e.status || ''}`) : 'Error'}</strong>{' '}
      {e?.field && <span class="err-field">[{e.field}] </span>}
      {text}
      {e?.code === 'version_conflict' &&
        <span> Someone changed it since you opened it: reload to see their version, then edit again.{' '}
          {onReload && <button type="button" onClick={onReload}>Reload their version</button>}</span>}
    </div>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return <div class="banner notice" role="status">{children}</div>;
}

// A button that changes something: disabled for read-only tokens, with the
// reason next to it (and as its accessible description).
export function WriteButton(props: {
  onClick?: () => void; children: ComponentChildren; type?: 'submit' | 'button';
  danger?: boolean; disabled?: boolean; label?: string; busy?: boolean;
}) {
  const { role } = useSession();
  const ro = role !== 'admin';
  const id = useId('ro');
  return (
    <span class="write">
      <button type={props.type ?? 'button'} class={props.danger ? 'danger' : ''}
        disabled={ro || props.disabled || props.busy} onClick={props.onClick}
        aria-label={props.label} aria-describedby={ro ? id : undefined}
        title={ro ? READ_ONLY_REASON : undefined}>
        {props.busy ? 'Working…' : props.children}
      </button>
      {ro && <span id={id} class="sr-only">{READ_ONLY_REASON}</span>}
    </span>
  );
}

export function ReadOnlyNotice() {
  const { role } = useSession();
  return role === 'admin' ? null : <Notice>{READ_ONLY_REASON} Controls that write are disabled.</Notice>;
}

// Loads data; reload() fetches again. Errors are kept for display.
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []) {
  const [data, setData] = useState<T | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    load().then((d) => { if (live) { setData(d); setErr(null); } },
                (e) => { if (live) setErr(e); });
    return () => { live = false; };
  }, [...deps, n]);
  return { data, err, reload: () => setN((x) => x + 1) };
}

export function usePoll<T>(load: () => Promise<T>, ms: number, deps: unknown[] = []) {
  const [data, setData] = useState<T | null>(null);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    let timer = 0;
    const tick = () => {
      load().then((d) => { if (live) { setData(d); setErr(null); } },
                  (e) => { if (live) setErr(e); })
        .finally(() => { if (live) timer = window.setTimeout(tick, ms); });
    };
    tick();
    return () => { live = false; clearTimeout(timer); };
  }, deps);
  return { data, err };
}

export function State({ state }: { state: string }) {
  return <span class={`state state-${state.replace(/[^a-z_]/g, '')}`}>{state.replace('_', ' ')}</span>;
}

export function confirmAction(text: string): boolean {
  return window.confirm(text);
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${u[i]}`;
}

// One page of a list at a time (lists are paged by name on the API side:
// limit, cursor, next_cursor), with the cursors seen kept for "previous".
export function usePage<T>(path: string, limit: number, deps: unknown[] = []) {
  const [cursors, setCursors] = useState<string[]>(['']);
  const cursor = cursors[cursors.length - 1];
  const sep = path.includes('?') ? '&' : '?';
  const r = useLoad(() => api<Page<T>>('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
                    [path, cursor, ...deps]);
  return {
    ...r,
    items: r.data?.items ?? null,
    page: cursors.length,
    prev: cursors.length > 1 ? () => setCursors(cursors.slice(0, -1)) : null,
    next: r.data?.next_cursor ? () => setCursors([...cursors, r.data!.next_cursor!]) : null,
  };
}

export function Pager({ label, p }: { label: string; p: { page: number; prev: (() => void) | null; next: (() => void) | null } }) {
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" disabled={!p.prev} onClick={() => p.prev?.()}>Previous page</button>
      <span>Page {p.page}</span>
      <button type="button" disabled={!p.next} onClick={() => p.next?.()}>Next page</button>
    </nav>
  );
}
