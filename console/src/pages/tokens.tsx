// API tokens: list, create (the secret is shown once, here), revoke.
// The API lets only admin tokens manage tokens.
import { useState } from 'preact/hooks';
import { api, ApiError, type Page } from '../api';
import { ErrorBanner, Field, Notice, ReadOnlyNotice, WriteButton, confirmAction, useLoad, useSession } from '../ui';

interface Token { id: number; name: string; role: string; created_at: string; revoked: boolean }

export function Tokens(_: { arg: string }) {
  const { role } = useSession();
  const list = useLoad(() => role === 'admin'
    ? api<Page<Token>>('GET', '/v1/tokens?limit=1000') : Promise.resolve(null));
  const [name, setName] = useState('');
  const [newRole, setNewRole] = useState('read-only');
  const [err, setErr] = useState<unknown>(null);
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);

  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const t = await api<{ name: string; token: string }>('POST', '/v1/tokens', { name: name.trim(), role: newRole });
      setCreated(t); setErr(null); setName(''); list.reload();
    } catch (x) { setErr(x); }
  };
  const revoke = async (t: Token) => {
    if (!confirmAction(`Revoke token ${t.name}? Anything using it is refused from now on.`)) return;
    try { await api('DELETE', `/v1/tokens/${t.id}`); setErr(null); list.reload(); } catch (x) { setErr(x); }
  };

  return (
    <>
      <h1>Tokens</h1>
      <ReadOnlyNotice />
      {role !== 'admin' && <Notice>Tokens are listed and managed with an admin token only.</Notice>}
      <form class="card form" onSubmit={create} aria-labelledby="tk-h" data-form="token">
        <h2 id="tk-h">New token</h2>
        <fieldset disabled={role !== 'admin'}>
          <div class="row">
            <Field label="Name" name="name" err={err}>
              {(id, d, inv) => <input id={id} name="token-name" value={name} aria-describedby={d} aria-invalid={inv}
                onInput={(e) => setName((e.target as HTMLInputElement).value)} />}
            </Field>
            <Field label="Role" name="role" err={err}>
              {(id, d) => (
                <select id={id} name="role" value={newRole} aria-describedby={d} onChange={(e) => setNewRole((e.target as HTMLSelectElement).value)}>
                  <option value="read-only">read-only</option>
                  <option value="admin">admin</option>
                </select>
              )}
            </Field>
          </div>
        </fieldset>
        <WriteButton type="submit">Create token</WriteButton>
        {err instanceof ApiError && !err.field && <ErrorBanner err={err} />}
      </form>
      {created && (
        <section class="card secret" aria-labelledby="sec-h" data-created-token>
          <h2 id="sec-h">Token {created.name} created</h2>
          <p>Copy it now: this is the only time it is shown.</p>
          <label for="new-secret">Secret</label>
          <input id="new-secret" readOnly value={created.token} onFocus={(e) => (e.target as HTMLInputElement).select()} />
          <p><button type="button" onClick={() => navigator.clipboard?.writeText(created.token)}>Copy</button>{' '}
            <button type="button" class="link" onClick={() => setCreated(null)}>I have copied it</button></p>
        </section>
      )}
      <ErrorBanner err={list.err} />
      {list.data && (
        <div class="table-wrap">
          <table data-table="tokens">
            <caption>Tokens (secrets are never shown again)</caption>
            <thead><tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">State</th><th scope="col">Action</th></tr></thead>
            <tbody>{list.data.items.map((t) => (
              <tr data-token={t.name}><td>{t.id}</td><th scope="row">{t.name}</th><td>{t.role}</td><td>{t.created_at}</td>
                <td>{t.revoked ? 'revoked' : 'active'}</td>
                <td>{!t.revoked && <WriteButton danger onClick={() => revoke(t)} label={`Revoke token ${t.name}`}>Revoke</WriteButton>}</td></tr>))}</tbody>
          </table>
        </div>
      )}
    </>
  );
}
