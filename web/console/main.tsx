/**
 * The operator console, /console (docs/console.md). Sign-in takes a workspace key, which lives in
 * this page's memory only (never localStorage, never a cookie): a reload signs out. Every view
 * calls the public API with it in the Authorization header.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import '../shared/base.css';
import { ApiFailure, apiCaller, type Call } from '../shared/api.ts';
import { ErrorNote, useAction } from '../shared/ui.tsx';
import { AuditView } from './audit.tsx';
import { CatalogView } from './catalog.tsx';
import { ConnectionsView } from './connections.tsx';
import { ProjectsView } from './projects.tsx';
import type { Connector, ViewProps } from './types.ts';
import { UsageView } from './usage.tsx';
import { WebhooksView } from './webhooks.tsx';

const VIEWS: { id: string; title: string; view: (p: ViewProps) => preact.JSX.Element }[] = [
  { id: 'catalog', title: 'Catalog', view: CatalogView },
  { id: 'connections', title: 'Connections', view: ConnectionsView },
  { id: 'projects', title: 'Projects', view: ProjectsView },
  { id: 'webhooks', title: 'Webhooks', view: WebhooksView },
  { id: 'audit', title: 'Audit log', view: AuditView },
  { id: 'usage', title: 'Rate limits', view: UsageView },
];

const currentView = () => VIEWS.find((v) => `#/${v.id}` === location.hash) ?? VIEWS[0]!;

function SignIn({ onSignedIn }: { onSignedIn: (call: Call, connectors: Connector[]) => void }) {
  const [busy, error, run] = useAction();
  return (
    <main class="wrap narrow">
      <h1>Connector engine console</h1>
      <form
        class="card"
        autocomplete="off"
        onSubmit={(e) => {
          e.preventDefault();
          const input = (e.currentTarget as HTMLFormElement).elements.namedItem('key') as HTMLInputElement;
          const call = apiCaller(input.value.trim());
          void run(async () => {
            try {
              await call('GET', '/v1/projects?limit=1');
            } catch (err) {
              if (err instanceof ApiFailure && err.status === 403)
                throw new Error('That is a project key; the console needs a workspace key.');
              throw err;
            }
            input.value = '';
            const catalog = await call<{ data: Connector[] }>('GET', '/v1/connectors');
            onSignedIn(call, catalog.data);
          });
        }}
      >
        <div class="field">
          <label for="workspace-key">Workspace key</label>
          <input id="workspace-key" name="key" type="password" required autocomplete="off" spellcheck={false} />
        </div>
        <p class="muted">The key stays in this tab's memory only; reloading the page signs you out.</p>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ErrorNote error={error} />
      </form>
    </main>
  );
}

function App() {
  const [session, setSession] = useState<{ call: Call; connectors: Connector[] } | null>(null);
  const [view, setView] = useState(currentView);
  useEffect(() => {
    const onHash = () => setView(currentView());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    document.title = session ? `${view.title} · Console` : 'Sign in · Console';
  }, [session, view]);
  if (!session) return <SignIn onSignedIn={(call, connectors) => setSession({ call, connectors })} />;
  const View = view.view;
  return (
    <>
      <header class="top">
        <div class="wrap">
          <h1>Connector engine</h1>
          <button type="button" class="secondary" onClick={() => setSession(null)}>
            Sign out
          </button>
        </div>
      </header>
      <main class="wrap">
        <nav class="tabs" aria-label="Sections">
          {VIEWS.map((v) => (
            <a key={v.id} href={`#/${v.id}`} aria-current={v.id === view.id ? 'page' : undefined}>
              {v.title}
            </a>
          ))}
        </nav>
        <h2 class="sr-only">{view.title}</h2>
        <View key={view.id} call={session.call} connectors={session.connectors} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
