/**
 * The hosted connect page, /connect/{token} (docs/connect-pages.md): an end user picks one of the
 * session's connectors, pastes a key (the form is built from the connector's authFields) or signs
 * in with OAuth, sees the credentials tested (Active, or Broken with the upstream's reason), and is
 * sent back to the app. /connect/done is where an OAuth sign-in lands when the app gave no redirect.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import '../shared/base.css';
import { ApiFailure, apiCaller } from '../shared/api.ts';
import { type AuthField, Badge, CredentialFields, credentialsFrom, ErrorNote, useAction } from '../shared/ui.tsx';

interface OfferedConnector {
  id: string;
  displayName: string;
  description: string;
  authType: 'api_key' | 'basic' | 'oauth2';
  authFields: AuthField[];
  signIn: boolean;
  defaultDisplayName: string;
}
interface Session {
  id: string;
  expiresAt: string;
  endUser: { id: string; displayName: string | null } | null;
  connectors: OfferedConnector[];
}
type Outcome =
  | { status: 'active'; displayName: string; redirectTo: string | null }
  | { status: 'broken'; reason: string };

const closedText: Record<string, { title: string; body: string }> = {
  expired: {
    title: 'This link has expired',
    body: 'Connect links work for a short time only. Go back to the app and start again to get a new one.',
  },
  completed: {
    title: 'This link has already been used',
    body: 'An account was already connected with it. Go back to the app if you need to connect another.',
  },
  unknown: {
    title: 'This link is not valid',
    body: 'Check that you copied the whole link, or go back to the app and start again.',
  },
};

/** Fixed sentences for /connect/done?error=…: the URL carries a code, never text. */
const failureText: Record<string, string> = {
  other_browser:
    'This sign-in was started in another browser. Open the connect link in the browser where you started, or ask the app for a new link.',
  session_closed: 'The connect link expired or was used while you were signing in. Ask the app for a new link.',
  denied: 'The sign-in was cancelled, so nothing was connected.',
  refused: 'The service refused the sign-in. Try again from the app.',
  unavailable: 'The service could not be reached to finish the sign-in. Try again in a moment.',
  invalid_state: 'This sign-in link is no longer valid (it was used or is too old). Start again from the app.',
};

function Shell({ children }: { children: preact.ComponentChildren }) {
  return (
    <main class="connect-shell">
      <div class="connect-card">{children}</div>
    </main>
  );
}

function ClosedPage({ reason }: { reason: string }) {
  const text = closedText[reason] ?? closedText.unknown!;
  return (
    <Shell>
      <h1>{text.title}</h1>
      <p>{text.body}</p>
    </Shell>
  );
}

function DonePage() {
  const params = new URLSearchParams(location.search);
  const error = params.get('error');
  const [name, setName] = useState<string | null>(null);
  useEffect(() => {
    const connector = params.get('connector');
    if (connector && /^[a-z0-9-]{1,100}$/.test(connector)) {
      apiCaller(null)<{ displayName: string }>('GET', `/v1/connectors/${connector}`).then(
        (c) => setName(c.displayName),
        () => {},
      );
    }
  }, []);
  if (error !== null) {
    return (
      <Shell>
        <h1>Not connected</h1>
        <p class="error" role="alert">
          {failureText[error] ?? failureText.invalid_state}
        </p>
      </Shell>
    );
  }
  return (
    <Shell>
      <div class="result" role="status">
        <h1>{name ? `${name} is connected` : 'Connected'}</h1>
        <p>
          <Badge status="active" />
        </p>
        <p>You can close this window and go back to the app.</p>
      </div>
    </Shell>
  );
}

function ConnectorForm({
  session,
  connector,
  call,
  onBack,
}: {
  session: Session;
  connector: OfferedConnector;
  call: ReturnType<typeof apiCaller>;
  onBack: () => void;
}) {
  const [busy, error, run] = useAction();
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [showKeyForm, setShowKeyForm] = useState(!connector.signIn);

  const submit = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const displayName = String(new FormData(form).get('displayName') ?? '').trim() || undefined;
    void run(async () => {
      setOutcome(null);
      const res = await call<{
        status: 'active' | 'broken';
        statusReason: string | null;
        connection: { displayName: string } | null;
        redirectTo: string | null;
      }>('POST', '/v1/connect/connections', {
        connectorId: connector.id,
        displayName,
        credentials: credentialsFrom(form, connector.authFields),
      });
      if (res.status === 'active') {
        // Secrets leave the page's memory with the form.
        form.reset();
        setOutcome({ status: 'active', displayName: res.connection!.displayName, redirectTo: res.redirectTo });
        if (res.redirectTo) setTimeout(() => location.assign(res.redirectTo!), 1500);
      } else {
        setOutcome({ status: 'broken', reason: res.statusReason ?? 'The credentials were rejected.' });
      }
    });
  };
  const signIn = () =>
    run(async () => {
      const input = document.getElementById('displayName') as HTMLInputElement | null;
      const { authorizeUrl } = await call<{ authorizeUrl: string }>(
        'POST',
        `/v1/connect/oauth/${connector.id}/authorize`,
        {
          displayName: input?.value.trim() || undefined,
        },
      );
      location.assign(authorizeUrl);
    });

  if (outcome?.status === 'active') {
    return (
      <div class="result" role="status">
        <h1>{connector.displayName} is connected</h1>
        <p>
          <Badge status="active" />
        </p>
        <p>
          “{outcome.displayName}” was tested and works.
          {outcome.redirectTo ? ' Taking you back to the app…' : ' You can close this window and go back to the app.'}
        </p>
        {outcome.redirectTo && <a href={outcome.redirectTo}>Back to the app</a>}
      </div>
    );
  }
  return (
    <>
      <button type="button" class="secondary" onClick={onBack}>
        ← All services
      </button>
      <h1>Connect {connector.displayName}</h1>
      <p class="muted">{connector.description}</p>
      <div class="field">
        <label for="displayName">Name this connection</label>
        <input
          id="displayName"
          name="displayName"
          form="key-form"
          defaultValue={connector.defaultDisplayName}
          maxLength={200}
        />
      </div>
      {connector.signIn && (
        <p>
          <button type="button" onClick={signIn} disabled={busy}>
            Sign in with {connector.displayName}
          </button>
        </p>
      )}
      {connector.signIn && connector.authFields.length > 0 && !showKeyForm && (
        <p>
          <button type="button" class="secondary" onClick={() => setShowKeyForm(true)}>
            Use a token instead
          </button>
        </p>
      )}
      {showKeyForm && connector.authFields.length > 0 && (
        <form id="key-form" onSubmit={submit} autocomplete="off">
          <CredentialFields fields={connector.authFields} idPrefix="cred" />
          <button type="submit" disabled={busy}>
            {busy ? 'Testing…' : 'Connect'}
          </button>
        </form>
      )}
      {busy && <p role="status">Testing the credentials with {connector.displayName}…</p>}
      {outcome?.status === 'broken' && (
        <div role="alert" class="card">
          <p>
            <Badge status="broken" /> {connector.displayName} did not accept these credentials.
          </p>
          <p class="reason" data-testid="broken-reason">
            {outcome.reason}
          </p>
          <p class="muted">Check them and try again.</p>
        </div>
      )}
      <ErrorNote error={error} />
      {session.endUser && <p class="muted">Connecting for {session.endUser.displayName ?? session.endUser.id}.</p>}
    </>
  );
}

function ConnectPage({ token }: { token: string }) {
  const call = apiCaller(token);
  const [session, setSession] = useState<Session | null>(null);
  const [closed, setClosed] = useState<string | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [chosen, setChosen] = useState<OfferedConnector | null>(null);

  useEffect(() => {
    call<Session>('GET', '/v1/connect/session').then(
      (s) => {
        setSession(s);
        if (s.connectors.length === 1) setChosen(s.connectors[0]!);
      },
      (e) =>
        e instanceof ApiFailure && e.status === 401
          ? setClosed((e.details as { reason?: string } | undefined)?.reason ?? 'unknown')
          : setFailure(e),
    );
  }, [token]);

  if (closed) return <ClosedPage reason={closed} />;
  if (failure)
    return (
      <Shell>
        <h1>Something went wrong</h1>
        <ErrorNote error={failure} />
      </Shell>
    );
  if (!session)
    return (
      <Shell>
        <p role="status">Loading…</p>
      </Shell>
    );
  if (chosen) {
    return (
      <Shell>
        <ConnectorForm
          key={chosen.id}
          session={session}
          connector={chosen}
          call={call}
          onBack={() => setChosen(null)}
        />
      </Shell>
    );
  }
  return (
    <Shell>
      <h1>Connect an account</h1>
      <p class="muted">
        Choose the service to connect. Your credentials go to the service to be checked and are stored encrypted; the
        app never sees them.
      </p>
      {/* biome-ignore lint/a11y/noRedundantRoles: `list-style: none` makes Safari drop the list role; this restores it. */}
      <ul class="grid" role="list">
        {session.connectors.map((c) => (
          <li key={c.id}>
            <button type="button" class="tile" onClick={() => setChosen(c)}>
              <strong>{c.displayName}</strong>
              <span class="muted">{c.signIn ? 'Sign in' : 'API key'}</span>
            </button>
          </li>
        ))}
      </ul>
    </Shell>
  );
}

function App() {
  const segment = decodeURIComponent(location.pathname.replace(/^\/connect\/?/, '').split('/')[0] ?? '');
  if (segment === 'done') return <DonePage />;
  return /^cst_[A-Za-z0-9_-]{43}$/.test(segment) ? <ConnectPage token={segment} /> : <ClosedPage reason="unknown" />;
}

render(<App />, document.getElementById('app')!);
