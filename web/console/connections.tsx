import { useEffect, useState } from 'preact/hooks';
import { Badge, CredentialFields, credentialsFrom, ErrorNote, Section, Select, useAction } from '../shared/ui.tsx';
import { type Connection, connectorName, type Page, type ViewProps, when } from './types.ts';

/** Connections: create (tested on the spot), re-test, fix credentials, delete; Active/Broken with the reason. */
export function ConnectionsView({ call, connectors }: ViewProps) {
  const [list, setList] = useState<Connection[] | null>(null);
  const [busy, error, run] = useAction();
  const [connectorId, setConnectorId] = useState(connectors[0]?.id ?? '');
  const [fixing, setFixing] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const connector = connectors.find((c) => c.id === connectorId);

  const load = () => run(async () => setList((await call<Page<Connection>>('GET', '/v1/connections?limit=100')).data));
  useEffect(() => void load(), []);

  const create = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const displayName = String(new FormData(form).get('displayName') ?? '').trim();
    void run(async () => {
      const c = await call<Connection>('POST', '/v1/connections', {
        connectorId,
        displayName,
        credentials: credentialsFrom(form, connector!.authFields),
      });
      form.reset();
      setNotice(
        c.status === 'active' ? `“${c.displayName}” is Active.` : `“${c.displayName}” is Broken: ${c.statusReason}`,
      );
      await load();
    });
  };
  const fix = (c: Connection) => (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const fields = connectors.find((k) => k.id === c.connectorId)?.authFields ?? [];
    void run(async () => {
      const updated = await call<Connection>('PATCH', `/v1/connections/${c.id}`, {
        credentials: credentialsFrom(form, fields),
      });
      setFixing(null);
      setNotice(
        updated.status === 'active'
          ? `“${updated.displayName}” is Active again.`
          : `Still Broken: ${updated.statusReason}`,
      );
      await load();
    });
  };
  const test = (c: Connection) =>
    run(async () => {
      const t = await call<Connection>('POST', `/v1/connections/${c.id}/test`);
      setNotice(`Tested “${t.displayName}”: ${t.status === 'active' ? 'Active' : `Broken — ${t.statusReason}`}`);
      await load();
    });
  const remove = (c: Connection) =>
    run(async () => {
      if (!confirm(`Delete “${c.displayName}”? Its bindings go with it.`)) return;
      await call('DELETE', `/v1/connections/${c.id}`);
      await load();
    });

  return (
    <>
      <Section title="New connection">
        <form onSubmit={create} autocomplete="off">
          <div class="row">
            <Select
              id="new-connector"
              label="Connector"
              value={connectorId}
              onChange={setConnectorId}
              options={connectors.map((c) => ({ value: c.id, label: c.displayName }))}
            />
            <div class="field">
              <label for="new-name">Name</label>
              <input id="new-name" name="displayName" required maxLength={200} />
            </div>
          </div>
          {connector && <CredentialFields key={connector.id} fields={connector.authFields} idPrefix="new" />}
          <button type="submit" disabled={busy}>
            Create and test
          </button>
        </form>
      </Section>
      {notice && (
        <p role="status" class="card">
          {notice}
        </p>
      )}
      <ErrorNote error={error} />
      <Section title="Connections">
        {list && list.length === 0 && <p class="muted">No connections yet.</p>}
        {list && list.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Connector</th>
                <th scope="col">Status</th>
                <th scope="col">Credentials</th>
                <th scope="col">Projects</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.map((c) => (
                <tr key={c.id} data-connection={c.id}>
                  <td>
                    {c.displayName}
                    <div class="muted">
                      <code>{c.id}</code>
                      {c.externalId && ` · end user ${c.externalId}`}
                    </div>
                  </td>
                  <td>{connectorName(connectors, c.connectorId)}</td>
                  <td>
                    <Badge status={c.status} />
                    {c.statusReason && <p class="reason">{c.statusReason}</p>}
                    <div class="muted">since {when(c.statusChangedAt)}</div>
                  </td>
                  <td>
                    {Object.entries(c.credentialsHint).map(([k, v]) => (
                      <div key={k}>
                        {k}: <code>{v}</code>
                      </div>
                    ))}
                  </td>
                  <td>{c.projectIds.length}</td>
                  <td>
                    <div class="actions">
                      <button type="button" class="secondary" disabled={busy} onClick={() => test(c)}>
                        Test
                      </button>
                      <button type="button" class="secondary" onClick={() => setFixing(fixing === c.id ? null : c.id)}>
                        Fix credentials
                      </button>
                      <button type="button" class="danger" disabled={busy} onClick={() => remove(c)}>
                        Delete
                      </button>
                    </div>
                    {fixing === c.id && (
                      <form onSubmit={fix(c)} autocomplete="off" aria-label={`New credentials for ${c.displayName}`}>
                        <CredentialFields
                          fields={connectors.find((k) => k.id === c.connectorId)?.authFields ?? []}
                          idPrefix={`fix-${c.id}`}
                        />
                        <button type="submit" disabled={busy}>
                          Save and test
                        </button>
                      </form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}
