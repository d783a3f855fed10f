import { useEffect, useState } from 'preact/hooks';
import { ErrorNote, Section, useAction } from '../shared/ui.tsx';
import { connectorName, type ViewProps } from './types.ts';

interface Series {
  projectId: string;
  projectName: string;
  connectorId: string;
  limitPerMinute: number | null;
  minutes: { minute: string; calls: number }[];
}
interface Usage {
  windowStart: string;
  windowEnd: string;
  data: Series[];
}

const W = 600;
const H = 120;

/** Calls per minute over the last hour against the limit: an SVG bar chart per project and connector. */
function Chart({ series, start }: { series: Series; start: number }) {
  const counts = new Array<number>(60).fill(0);
  for (const m of series.minutes) {
    const i = Math.round((new Date(m.minute).getTime() - start) / 60_000);
    if (i >= 0 && i < 60) counts[i] = m.calls;
  }
  const peak = Math.max(...counts);
  const top = Math.max(peak, series.limitPerMinute ?? 0, 1);
  const y = (v: number) => H - 14 - (v / top) * (H - 24);
  const bar = W / 60;
  const total = counts.reduce((a, b) => a + b, 0);
  return (
    <figure>
      <svg
        class="chart"
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${total} calls in the last hour, peak ${peak} per minute, limit ${series.limitPerMinute ?? 'unknown'} per minute`}
      >
        {counts.map((c, i) =>
          c > 0 ? <rect key={i} class="bar" x={i * bar + 1} y={y(c)} width={bar - 2} height={H - 14 - y(c)} /> : null,
        )}
        {series.limitPerMinute !== null && (
          <line class="limit" x1={0} x2={W} y1={y(series.limitPerMinute)} y2={y(series.limitPerMinute)} />
        )}
        <text x={0} y={H - 2}>
          −60 min
        </text>
        <text x={W - 30} y={H - 2}>
          now
        </text>
      </svg>
      <figcaption class="muted">
        {total} calls; peak {peak}/min of a limit of {series.limitPerMinute ?? '?'}/min (
        {series.limitPerMinute ? Math.round((peak / series.limitPerMinute) * 100) : 0}% at the peak).
      </figcaption>
    </figure>
  );
}

export function UsageView({ call, connectors }: ViewProps) {
  const [usage, setUsage] = useState<Usage | null>(null);
  const [busy, error, run] = useAction();
  const load = () => run(async () => setUsage(await call<Usage>('GET', '/v1/rate-limit-usage')));
  useEffect(() => void load(), []);
  return (
    <>
      <ErrorNote error={error} />
      <Section
        title="Rate-limit use, last hour"
        actions={
          <button type="button" class="secondary" disabled={busy} onClick={load}>
            Refresh
          </button>
        }
      >
        <p class="muted">
          Calls per minute recorded in the audit log, per project and connector; the dashed line is the limit in force.
        </p>
        {usage && usage.data.length === 0 && <p class="muted">No calls in the last hour.</p>}
      </Section>
      {usage?.data.map((s) => (
        <Section
          key={`${s.projectId}-${s.connectorId}`}
          title={`${s.projectName} · ${connectorName(connectors, s.connectorId)}`}
        >
          <Chart series={s} start={new Date(usage.windowStart).getTime()} />
        </Section>
      ))}
    </>
  );
}
