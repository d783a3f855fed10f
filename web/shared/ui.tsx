import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiFailure } from './api.ts';

/** Active / Broken (or any status) as a badge whose text says it: colour is never the only cue. */
export function Badge({ status }: { status: string }) {
  return (
    <span class={`badge badge-${status}`}>
      {status === 'active' ? 'Active' : status === 'broken' ? 'Broken' : status}
    </span>
  );
}

/** An error the person can read: the API's message, never a stack. */
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof ApiFailure || error instanceof Error ? error.message : String(error);
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

export interface AuthField {
  key: string;
  label: string;
  secret: boolean;
  required: boolean;
}

/**
 * Inputs for a connector's authFields. Secret fields are password inputs that start empty and are
 * never filled from the server (write-only): the API never returns a whole secret anyway.
 */
export function CredentialFields({ fields, idPrefix }: { fields: AuthField[]; idPrefix: string }) {
  return (
    <>
      {fields.map((f) => (
        <div class="field" key={f.key}>
          <label for={`${idPrefix}-${f.key}`}>
            {f.label}
            {f.required ? '' : ' (optional)'}
          </label>
          <input
            id={`${idPrefix}-${f.key}`}
            name={f.key}
            type={f.secret ? 'password' : 'text'}
            autocomplete={f.secret ? 'new-password' : 'off'}
            spellcheck={false}
            required={f.required}
          />
        </div>
      ))}
    </>
  );
}

/** The credentials typed into CredentialFields, without empty optional fields. */
export function credentialsFrom(form: HTMLFormElement, fields: AuthField[]): Record<string, string> {
  const data = new FormData(form);
  const out: Record<string, string> = {};
  for (const f of fields) {
    const v = String(data.get(f.key) ?? '').trim();
    if (v) out[f.key] = v;
  }
  return out;
}

/** Runs an async action with a busy flag and an error to show. */
export function useAction(): [boolean, unknown, (fn: () => Promise<void>) => Promise<void>, (e: unknown) => void] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return [busy, error, run, setError];
}

export function Json({ value, label }: { value: unknown; label: string }) {
  return (
    // biome-ignore lint/a11y/useAriaPropsSupportedByRole lint/a11y/noNoninteractiveTabindex: a scrolling block must be reachable by keyboard, and its label names it when it is.
    <pre class="json" aria-label={label} tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function Section({
  title,
  children,
  actions,
}: {
  title: string;
  children: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return (
    <section class="card" aria-label={title}>
      <div class="card-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** A secret the API shows once (a project key, a webhook secret). */
export function ShownOnce({ label, value, onDone }: { label: string; value: string; onDone: () => void }) {
  return (
    <div class="shown-once" role="status">
      <p>
        <strong>{label}</strong> — copy it now; it is shown only this once.
      </p>
      <code class="secret-value" data-testid="shown-once">
        {value}
      </code>
      <button type="button" onClick={onDone}>
        I have copied it
      </button>
    </div>
  );
}

/** A labelled select; `empty` adds a first option with the value '' (e.g. "Any"). */
export function Select({
  id,
  label,
  value,
  onChange,
  options,
  empty,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  options: { value: string; label: string }[];
  empty?: string;
}) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {empty !== undefined && <option value="">{empty}</option>}
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}
