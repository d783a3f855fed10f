import { Json, Section } from '../shared/ui.tsx';
import type { ViewProps } from './types.ts';

/** The catalog: every connector with each action's input and output JSON Schema. */
export function CatalogView({ connectors }: ViewProps) {
  return (
    <>
      {connectors.map((c) => (
        <Section key={c.id} title={c.displayName}>
          <p class="muted">
            {c.description} · <code>{c.id}</code> · auth: {c.authType} · {c.rateLimit.requestsPerMinute}/min
          </p>
          {c.actions.map((a) => (
            <details key={a.id}>
              <summary>
                <strong>{a.displayName}</strong> <code>{a.id}</code> <span class="muted">({a.sideEffects})</span>
              </summary>
              <p>{a.description}</p>
              <h3>Input schema</h3>
              <Json value={a.inputSchema} label={`${a.id} input schema`} />
              <h3>Output schema</h3>
              <Json value={a.outputSchema} label={`${a.id} output schema`} />
            </details>
          ))}
        </Section>
      ))}
    </>
  );
}
