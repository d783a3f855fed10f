import { useEffect, useState } from 'preact/hooks';
import { Badge, ErrorNote, Section, Select, ShownOnce, useAction } from '../shared/ui.tsx';
import { type Connection, connectorName, type Page, type Project, type ViewProps, when } from './types.ts';

interface ApiKey {
  id: string;
  name: string | null;
  prefix: string;
  createdAt: string;
}

/** Projects, their connection bindings and project keys (a new key is shown once). */
export function ProjectsView({ call, connectors }: ViewProps) {
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [busy, error, run] = useAction();
  const load = () => run(async () => setProjects((await call<Page<Project>>('GET', '/v1/projects?limit=100')).data));
  useEffect(() => void load(), []);

  const create = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    void run(async () => {
      const p = await call<Project>('POST', '/v1/projects', {
        displayName: String(data.get('displayName')).trim(),
        ...(String(data.get('externalId') ?? '').trim() ? { externalId: String(data.get('externalId')).trim() } : {}),
      });
      form.reset();
      setSelected(p.id);
      await load();
    });
  };

  const project = projects?.find((p) => p.id === selected);
  return (
    <>
      <Section title="New project">
        <form onSubmit={create}>
          <div class="row">
            <div class="field">
              <label for="project-name">Name</label>
              <input id="project-name" name="displayName" required maxLength={200} />
            </div>
            <div class="field">
              <label for="project-external">External id (optional)</label>
              <input id="project-external" name="externalId" maxLength={255} />
            </div>
            <button type="submit" disabled={busy}>
              Create project
            </button>
          </div>
        </form>
      </Section>
      <ErrorNote error={error} />
      <Section title="Projects">
        {projects && projects.length === 0 && <p class="muted">No projects yet.</p>}
        {projects && projects.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Id</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="muted">Open</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {projects.map((p) => (
                <tr key={p.id} class={p.id === selected ? 'selected' : ''}>
                  <td>{p.displayName}</td>
                  <td>
                    <code>{p.id}</code>
                  </td>
                  <td>{when(p.createdAt)}</td>
                  <td>
                    <button
                      type="button"
                      class="secondary"
                      aria-pressed={p.id === selected}
                      onClick={() => setSelected(p.id)}
                    >
                      Manage {p.displayName}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {project && <ProjectDetail key={project.id} project={project} call={call} connectors={connectors} />}
    </>
  );
}

function ProjectDetail({ project, call, connectors }: ViewProps & { project: Project }) {
  const [bound, setBound] = useState<Connection[]>([]);
  const [all, setAll] = useState<Connection[]>([]);
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const [newKey, setNewKey] = useState<string | null>(null);
  const [toBind, setToBind] = useState('');
  const [busy, error, run] = useAction();
  const base = `/v1/projects/${project.id}`;
  const load = () =>
    run(async () => {
      const [b, a, k] = await Promise.all([
        call<Page<Connection>>('GET', `${base}/connections?limit=100`),
        call<Page<Connection>>('GET', '/v1/connections?limit=100'),
        call<Page<ApiKey>>('GET', `${base}/api-keys?limit=100`),
      ]);
      setBound(b.data);
      setAll(a.data);
      setKeys(k.data);
    });
  useEffect(() => void load(), []);
  /** A call, then the lists again. */
  const act = (method: string, path: string) =>
    run(async () => {
      await call(method, path);
      await load();
    });
  const unbound = all.filter((c) => !bound.some((b) => b.id === c.id));

  return (
    <Section title={`Project: ${project.displayName}`}>
      <ErrorNote error={error} />
      <h3>Bound connections</h3>
      {bound.length === 0 && <p class="muted">None: calls of this project find no connection.</p>}
      <ul>
        {bound.map((c) => (
          <li key={c.id}>
            {c.displayName} ({connectorName(connectors, c.connectorId)}) <Badge status={c.status} />{' '}
            <button
              type="button"
              class="danger"
              disabled={busy}
              onClick={() => act('DELETE', `${base}/connections/${c.id}`)}
            >
              Unbind
            </button>
          </li>
        ))}
      </ul>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (toBind) void act('PUT', `${base}/connections/${toBind}`).then(() => setToBind(''));
        }}
      >
        <div class="row">
          <Select
            id="bind-connection"
            label="Bind a connection"
            empty="Choose…"
            value={toBind}
            onChange={setToBind}
            options={unbound.map((c) => ({
              value: c.id,
              label: `${c.displayName} (${connectorName(connectors, c.connectorId)})`,
            }))}
          />
          <button type="submit" disabled={busy || !toBind}>
            Bind
          </button>
        </div>
      </form>
      <h3>Project keys</h3>
      {newKey && <ShownOnce label="New project key" value={newKey} onDone={() => setNewKey(null)} />}
      <ul>
        {keys.map((k) => (
          <li key={k.id}>
            <code>{k.prefix}…</code> {k.name ?? ''} <span class="muted">created {when(k.createdAt)}</span>{' '}
            <button
              type="button"
              class="danger"
              disabled={busy}
              onClick={() => act('DELETE', `${base}/api-keys/${k.id}`)}
            >
              Revoke
            </button>
          </li>
        ))}
      </ul>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const form = e.currentTarget as HTMLFormElement;
          const name = String(new FormData(form).get('keyName') ?? '').trim();
          void run(async () => {
            const k = await call<{ key: string }>('POST', `${base}/api-keys`, name ? { name } : {});
            form.reset();
            setNewKey(k.key);
            await load();
          });
        }}
      >
        <div class="row">
          <div class="field">
            <label for="key-name">Key name (optional)</label>
            <input id="key-name" name="keyName" maxLength={100} />
          </div>
          <button type="submit" disabled={busy}>
            Create project key
          </button>
        </div>
      </form>
    </Section>
  );
}
