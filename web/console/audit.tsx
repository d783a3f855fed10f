import { useEffect, useState } from 'preact/hooks';
import { query } from '../shared/api.ts';
import { Badge, ErrorNote, Json, Section, Select, useAction } from '../shared/ui.tsx';
import { connectorName, type Page, type ViewProps, when } from './types.ts';

interface Invocation {
  id: string;
  projectId: string;
  connectionId: string | null;
  connectorId: string;
  actionId: string;
  status: string;
  errorCode: string | null;
  errorMessage: string | null;
  errorDetails: unknown;
  durationMs: number | null;
  attempts: number;
  via: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  output: unknown;
}

const STATUSES = ['queued', 'running', 'succeeded', 'failed'];

/** datetime-local (the browser's time zone) → ISO 8601 for the API, or undefined when empty. */
const isoOf = (local: string) => (local ? new Date(local).toISOString() : undefined);

/** The audit log with its filters (connector, action, status, time) and each invocation's detail. */
export function AuditView({ call, connectors }: ViewProps) {
  const [filters, setFilters] = useState({ connectorId: '', actionId: '', status: '', since: '', until: '' });
  const [rows, setRows] = useState<Invocation[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [detail, setDetail] = useState<Invocation | null>(null);
  const [busy, error, run] = useAction();
  const connector = connectors.find((c) => c.id === filters.connectorId);

  const load = (cursor?: string) =>
    run(async () => {
      const page = await call<Page<Invocation>>(
        'GET',
        `/v1/invocations${query({ limit: 50, cursor, connectorId: filters.connectorId, actionId: filters.actionId, status: filters.status, since: isoOf(filters.since), until: isoOf(filters.until) })}`,
      );
      setRows(cursor ? [...(rows ?? []), ...page.data] : page.data);
      setNext(page.nextCursor);
    });
  useEffect(() => void load(), []);
  const set = (k: keyof typeof filters) => (value: string) =>
    setFilters({ ...filters, [k]: value, ...(k === 'connectorId' ? { actionId: '' } : {}) });
  const fromInput = (k: keyof typeof filters) => (e: Event) => set(k)((e.target as HTMLInputElement).value);
  const actionIds = [...new Set((connector ? [connector] : connectors).flatMap((c) => c.actions.map((a) => a.id)))];

  return (
    <>
      <Section title="Filters">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setDetail(null);
            void load();
          }}
        >
          <div class="row">
            <Select
              id="f-connector"
              label="Connector"
              empty="Any"
              value={filters.connectorId}
              onChange={set('connectorId')}
              options={connectors.map((c) => ({ value: c.id, label: c.displayName }))}
            />
            <Select
              id="f-action"
              label="Action"
              empty="Any"
              value={filters.actionId}
              onChange={set('actionId')}
              options={actionIds.map((a) => ({ value: a, label: a }))}
            />
            <Select
              id="f-status"
              label="Status"
              empty="Any"
              value={filters.status}
              onChange={set('status')}
              options={STATUSES.map((s) => ({ value: s, label: s }))}
            />
            <div class="field">
              <label for="f-since">From</label>
              <input id="f-since" type="datetime-local" value={filters.since} onChange={fromInput('since')} />
            </div>
            <div class="field">
              <label for="f-until">Until</label>
              <input id="f-until" type="datetime-local" value={filters.until} onChange={fromInput('until')} />
            </div>
            <button type="submit" disabled={busy}>
              Apply filters
            </button>
          </div>
        </form>
      </Section>
      <ErrorNote error={error} />
      <Section title="Invocations">
        {rows && rows.length === 0 && <p class="muted">No invocations match.</p>}
        {rows && rows.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Connector · action</th>
                <th scope="col">Status</th>
                <th scope="col">Duration</th>
                <th scope="col">Attempts</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((i) => (
                <tr key={i.id} data-invocation={i.id} class={detail?.id === i.id ? 'selected' : ''}>
                  <td>{when(i.createdAt)}</td>
                  <td>
                    {connectorName(connectors, i.connectorId)} · <code>{i.actionId}</code>
                  </td>
                  <td>
                    <Badge status={i.status} />
                  </td>
                  <td data-testid="duration">{i.durationMs === null ? '—' : `${i.durationMs} ms`}</td>
                  <td>{i.attempts}</td>
                  <td>
                    <button
                      type="button"
                      class="secondary"
                      onClick={() => setDetail(i)}
                      aria-label={`Details of ${i.id}`}
                    >
                      Details
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {next && (
          <button type="button" class="secondary" disabled={busy} onClick={() => load(next)}>
            More
          </button>
        )}
      </Section>
      {detail && (
        <Section title={`Invocation ${detail.id}`}>
          <dl class="meta">
            <dt>Status</dt>
            <dd>
              <Badge status={detail.status} />
            </dd>
            <dt>Connector · action</dt>
            <dd>
              {connectorName(connectors, detail.connectorId)} · {detail.actionId}
            </dd>
            <dt>Project</dt>
            <dd>
              <code>{detail.projectId}</code>
            </dd>
            <dt>Connection</dt>
            <dd>
              <code>{detail.connectionId ?? '—'}</code>
            </dd>
            <dt>Via</dt>
            <dd>{detail.via}</dd>
            <dt>Attempts</dt>
            <dd>{detail.attempts}</dd>
            <dt>Duration</dt>
            <dd>{detail.durationMs === null ? '—' : `${detail.durationMs} ms`}</dd>
            <dt>Created · started · finished</dt>
            <dd>
              {when(detail.createdAt)} · {when(detail.startedAt)} · {when(detail.finishedAt)}
            </dd>
            <dt>Error</dt>
            <dd>{detail.errorCode ? `${detail.errorCode}: ${detail.errorMessage ?? ''}` : '—'}</dd>
          </dl>
          {detail.errorDetails != null && <Json value={detail.errorDetails} label="Error details" />}
          <h3>Input</h3>
          <p class="muted">
            Not recorded: the engine keeps no call inputs (they may hold personal data); see docs/audit-log.md.
          </p>
          <h3>Output</h3>
          {detail.output === null ? (
            <p class="muted">None (or past retention).</p>
          ) : (
            <Json value={detail.output} label="Output" />
          )}
        </Section>
      )}
    </>
  );
}
