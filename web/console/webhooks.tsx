import { useEffect, useState } from 'preact/hooks';
import { Badge, ErrorNote, Section, ShownOnce, useAction } from '../shared/ui.tsx';
import { type Page, type ViewProps, when } from './types.ts';

interface Webhook {
  id: string;
  url: string;
  events: string[];
  createdAt: string;
}
interface Delivery {
  id: string;
  type: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

const EVENTS = ['connection.broken', 'connection.restored'];

/** Webhooks out: create (the signing secret is shown once), delete, and each one's deliveries. */
export function WebhooksView({ call }: ViewProps) {
  const [hooks, setHooks] = useState<Webhook[] | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [deliveries, setDeliveries] = useState<Delivery[]>([]);
  const [busy, error, run] = useAction();
  const load = () => run(async () => setHooks((await call<Page<Webhook>>('GET', '/v1/webhooks?limit=100')).data));
  useEffect(() => void load(), []);
  const show = (id: string) =>
    run(async () => {
      setOpen(id);
      setDeliveries((await call<Page<Delivery>>('GET', `/v1/webhooks/${id}/deliveries?limit=50`)).data);
    });

  return (
    <>
      <Section title="New webhook">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const form = e.currentTarget as HTMLFormElement;
            const data = new FormData(form);
            void run(async () => {
              const h = await call<{ secret: string }>('POST', '/v1/webhooks', {
                url: String(data.get('url')).trim(),
                events: data.getAll('events').map(String),
              });
              form.reset();
              setSecret(h.secret);
              await load();
            });
          }}
        >
          <div class="field">
            <label for="webhook-url">Endpoint URL</label>
            <input id="webhook-url" name="url" type="url" required placeholder="https://example.com/hooks/engine" />
          </div>
          <fieldset>
            <legend>Events</legend>
            {EVENTS.map((ev) => (
              <label key={ev} class="plain">
                <input type="checkbox" name="events" value={ev} defaultChecked /> {ev}{' '}
              </label>
            ))}
          </fieldset>
          <button type="submit" disabled={busy}>
            Create webhook
          </button>
        </form>
        {secret && <ShownOnce label="Signing secret" value={secret} onDone={() => setSecret(null)} />}
      </Section>
      <ErrorNote error={error} />
      <Section title="Webhooks">
        {hooks && hooks.length === 0 && <p class="muted">No webhooks yet.</p>}
        <ul>
          {hooks?.map((h) => (
            <li key={h.id}>
              <code>{h.url}</code> <span class="muted">{h.events.join(', ')}</span>{' '}
              <button type="button" class="secondary" onClick={() => show(h.id)}>
                Deliveries
              </button>{' '}
              <button
                type="button"
                class="danger"
                disabled={busy}
                onClick={() =>
                  run(async () => {
                    await call('DELETE', `/v1/webhooks/${h.id}`);
                    await load();
                  })
                }
              >
                Delete
              </button>
            </li>
          ))}
        </ul>
      </Section>
      {open && (
        <Section title="Deliveries">
          {deliveries.length === 0 && <p class="muted">No deliveries yet.</p>}
          {deliveries.length > 0 && (
            <table>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last error</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {deliveries.map((d) => (
                  <tr key={d.id}>
                    <td>{d.type}</td>
                    <td>
                      <Badge status={d.status} />
                    </td>
                    <td>{d.attempts}</td>
                    <td>{d.lastError ?? (d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : '—')}</td>
                    <td>{when(d.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
      )}
    </>
  );
}
