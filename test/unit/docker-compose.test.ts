/**
 * docker-compose.yml and the Dockerfile cannot be run here (no Docker engine in CI), so this test is
 * their gate: the compose file's shape is checked with zod, and it is kept in step with the real
 * processes: commands are npm scripts whose files exist, every variable set for the app is one that
 * shared/config.ts reads (and the defaults written here pass it), Redis persists with AOF, workers
 * scale, and the image holds every file and package the processes import at run time.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { connectors } from '../../connectors/registry.ts';
import { settingsOf } from '../../connectors/toolkit/settings.ts';
import { distFile, ENTRIES } from '../../scripts/build.mjs';
import { loadConfig } from '../../shared/config.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

// ---------------------------------------------------------------------------------------------
// The compose file's shape

/** Compose durations: 1m30s, 45s, 500ms … → milliseconds. */
function durationMs(value: string): number {
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) throw new Error(`not a duration: ${value}`);
  const unit = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001 } as const;
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2] as keyof typeof unit], 0);
}
const duration = z.string().refine((v) => {
  try {
    return durationMs(v) > 0;
  } catch {
    return false;
  }
}, 'a compose duration such as 30s or 1m30s');

const healthcheck = z.strictObject({
  test: z.union([z.tuple([z.enum(['CMD', 'CMD-SHELL'])], z.string()), z.string()]),
  interval: duration,
  timeout: duration,
  retries: z.number().int().positive(),
  start_period: duration.optional(),
  start_interval: duration.optional(),
});

const dependsOn = z.record(
  z.string(),
  z.strictObject({
    condition: z.enum(['service_started', 'service_healthy', 'service_completed_successfully']),
    restart: z.boolean().optional(),
    required: z.boolean().optional(),
  }),
);

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const service = z
  .strictObject({
    image: z.string().optional(),
    build: z
      .union([
        z.string(),
        z.strictObject({ context: z.string(), dockerfile: z.string().optional(), target: z.string().optional() }),
      ])
      .optional(),
    command: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
    entrypoint: z.union([z.string(), z.array(z.string())]).optional(),
    environment: z.record(z.string(), scalar.nullable()).optional(),
    env_file: z.unknown().optional(),
    ports: z.array(z.union([z.string(), z.number(), z.record(z.string(), z.unknown())])).optional(),
    expose: z.array(z.union([z.string(), z.number()])).optional(),
    volumes: z.array(z.union([z.string(), z.record(z.string(), z.unknown())])).optional(),
    depends_on: dependsOn.optional(),
    healthcheck: healthcheck.optional(),
    restart: z.enum(['no', 'always', 'on-failure', 'unless-stopped']).optional(),
    init: z.boolean().optional(),
    stop_signal: z.string().optional(),
    stop_grace_period: duration.optional(),
    container_name: z.string().optional(),
    user: z.string().optional(),
    // Accepted so that operational additions do not need this test changed.
    deploy: z.unknown().optional(),
    logging: z.unknown().optional(),
    networks: z.unknown().optional(),
    labels: z.unknown().optional(),
    ulimits: z.unknown().optional(),
    profiles: z.array(z.string()).optional(),
    pull_policy: z.string().optional(),
    read_only: z.boolean().optional(),
    tmpfs: z.unknown().optional(),
  })
  .refine((s) => s.image !== undefined || s.build !== undefined, 'needs an image or a build');
type Service = z.infer<typeof service>;

const composeFile = z
  .object({
    name: z.string().optional(),
    services: z.record(z.string(), service),
    volumes: z.record(z.string(), z.union([z.null(), z.record(z.string(), z.unknown())])).optional(),
    networks: z.record(z.string(), z.unknown()).optional(),
  })
  .catchall(z.unknown())
  .superRefine((file, ctx) => {
    for (const key of Object.keys(file)) {
      if (!['name', 'services', 'volumes', 'networks'].includes(key) && !key.startsWith('x-')) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown top-level key ${key} (the obsolete "version" included)`,
          path: [key],
        });
      }
    }
  });

// `merge: true`: the file shares environment and build settings through `<<: *anchor`.
const compose = composeFile.parse(parse(read('docker-compose.yml'), { merge: true }));
const services = compose.services;
const svc = (name: string): Service => {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};
const APP_SERVICES = ['migrate', 'api', 'worker'] as const;

// ---------------------------------------------------------------------------------------------
// Compose variable interpolation, as `docker compose` does it, against a given host environment

const SAMPLE_HOST_ENV: Record<string, string> = {
  DATABASE_URL: 'postgres://engine:pw@postgres:5432/engine',
  REDIS_URL: 'redis://redis:6379',
  CONNECTORS_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  BOOTSTRAP_WORKSPACE_KEY: 'ck_ws_0123456789abcdef0123456789abcdef',
  POSTGRES_PASSWORD: 'pw',
};

function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (m, name?: string, op?: string, arg?: string, bare?: string) => {
      if (m === '$$') return '$';
      if (bare) return env[bare] ?? '';
      const v = env[name!];
      const set = op?.startsWith(':') ? v !== undefined && v !== '' : v !== undefined;
      switch (op) {
        case undefined:
          return v ?? '';
        case ':-':
        case '-':
          return set ? v! : (arg ?? '');
        case ':+':
        case '+':
          return set ? (arg ?? '') : '';
        default: // ':?' or '?'
          if (!set) throw new Error(`required variable ${name} is missing: ${arg}`);
          return v!;
      }
    },
  );
}

const envOf = (s: Service, host: Record<string, string | undefined> = SAMPLE_HOST_ENV): Record<string, string> =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v ?? ''), host)]));

// ---------------------------------------------------------------------------------------------
// What the compose file has to agree with

const pkg = JSON.parse(read('package.json')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
};

/**
 * `npm run <script>` → the script. It must build first and then `exec` node on the compiled entry:
 * `node scripts/build.mjs [--quiet] && exec node [flags] dist/<entry>.js [args]`, where <entry>.ts is
 * one of the entries scripts/build.mjs bundles. `file` is that .ts source, `dist` the built file.
 */
function scriptOf(command: Service['command']): { script: string; file: string; dist: string } {
  const argv = typeof command === 'string' ? command.split(/\s+/) : (command ?? []);
  const [npm, run, script, ...rest] = argv;
  expect([npm, run], `command ${JSON.stringify(command)} must be "npm run <script>"`).toEqual(['npm', 'run']);
  expect(rest).toEqual([]);
  const body = pkg.scripts[script!];
  expect(body, `package.json has no script "${script}"`).toBeTypeOf('string');
  const steps = body!.split('&&').map((step) => step.trim().split(/\s+/));
  // The build runs first (it does nothing in the image, which has no sources), so no stale dist runs.
  expect(steps.length, `script "${script}" (${body}) must build, then run node`).toBe(2);
  expect(steps[0]!.slice(0, 2), `script "${script}" must start with node scripts/build.mjs`).toEqual([
    'node',
    'scripts/build.mjs',
  ]);
  // `exec` hands the shell's process over to node, so signals from npm reach the service.
  const [exec, node, ...args] = steps[1]!;
  expect([exec, node], `script "${script}" (${body}) must end in "exec node …"`).toEqual(['exec', 'node']);
  expect(args, `script "${script}" runs with source maps (stack traces name the .ts files)`).toContain(
    '--enable-source-maps',
  );
  const dist = args.find((t) => !t.startsWith('-'));
  const file = ENTRIES.find((e) => dist !== undefined && path.resolve(ROOT, dist) === distFile(e));
  expect(file, `script "${script}" (${body}) must run one of the built entries (${ENTRIES.join(', ')})`).toBeDefined();
  expect(fs.existsSync(path.join(ROOT, file!)), `${file} (script "${script}") must exist`).toBe(true);
  return { script: script!, file: file!, dist: dist! };
}

/** The keys of configSchema, read from shared/config.ts's source (nothing new is exported from it). */
function configKeys(): Set<string> {
  const source = read('shared/config.ts');
  const start = source.indexOf('const configSchema = z.object({');
  expect(start, 'shared/config.ts declares `const configSchema = z.object({`').toBeGreaterThanOrEqual(0);
  const end = source.indexOf('\n});', start);
  const body = source.slice(start, end);
  const keys = new Set([...body.matchAll(/^\s{2}([A-Z][A-Z0-9_]*)\s*:/gm)].map((m) => m[1]!));
  // The parser agrees with the schema: every key loadConfig returns for a complete env is found.
  const loaded = loadConfig({
    ...SAMPLE_HOST_ENV,
    PUBLIC_URL: 'https://engine.example.com',
    SLACK_CLIENT_ID: 'id',
    SLACK_CLIENT_SECRET: 'secret',
  });
  for (const key of Object.keys(loaded))
    if (key !== 'connectorSettings') expect(keys, `config key ${key}`).toContain(key);
  return keys;
}
const CONFIG_KEYS = configKeys();
/**
 * Variables the app reads that are not keys of configSchema: the settings connectors and OAuth
 * providers bring (`<ID>_API_URL`, …), named from the registry (connectors/toolkit/settings.ts).
 */
const EXTRA_ALLOWED = new Set<string>(settingsOf(connectors).map((s) => s.name));
const REQUIRED_BY_CONFIG = ['DATABASE_URL', 'REDIS_URL', 'CONNECTORS_ENCRYPTION_KEYS'];

// ---------------------------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  it('has redis, postgres, a migrate step, the api and the worker', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'migrate', 'postgres', 'redis', 'worker']);
    expect(svc('redis').image).toMatch(/^redis:7(\.|-|$)/);
    expect(svc('postgres').image).toMatch(/^postgres:15(\.|-|$)/);
  });

  it('runs every app service from the one image built from the Dockerfile', () => {
    const images = new Set(APP_SERVICES.map((n) => svc(n).image));
    expect(images.size).toBe(1);
    for (const name of APP_SERVICES) {
      const build = svc(name).build;
      const context = typeof build === 'string' ? build : build?.context;
      expect(context, `${name} builds the repository's Dockerfile`).toBe('.');
      expect(svc(name).init, `${name}: init forwards signals and reaps children`).toBe(true);
    }
  });

  it('runs the real processes: each command is an npm script whose file exists', () => {
    expect(scriptOf(svc('migrate').command).script).toBe('migrate');
    expect(scriptOf(svc('api').command).script).toBe('api');
    expect(scriptOf(svc('worker').command).script).toBe('worker');
  });

  it('orders start-up: migrate after postgres is healthy; api and worker after migrate succeeded', () => {
    expect(svc('migrate').depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(svc('migrate').restart).toBe('no');
    for (const name of ['api', 'worker']) {
      expect(svc(name).depends_on, name).toMatchObject({
        redis: { condition: 'service_healthy' },
        postgres: { condition: 'service_healthy' },
        migrate: { condition: 'service_completed_successfully' },
      });
    }
  });

  it('health-checks redis, postgres, the api (/readyz) and the workers', () => {
    const testOf = (name: string) => {
      const t = svc(name).healthcheck?.test;
      expect(t, `${name} has a healthcheck`).toBeDefined();
      return typeof t === 'string' ? t : t!.join(' ');
    };
    expect(testOf('redis')).toMatch(/redis-cli ping/);
    expect(testOf('postgres')).toMatch(/pg_isready/);
    // The slim image has no curl: node's fetch, on the port the api listens on.
    const apiPort = envOf(svc('api')).PORT ?? String(loadConfig(SAMPLE_HOST_ENV).PORT);
    expect(testOf('api')).toContain(`node -e`);
    expect(testOf('api')).toContain(`http://127.0.0.1:${apiPort}/readyz`);
    expect(
      svc('api')
        .ports?.map(String)
        .some((p) => p.endsWith(`:${apiPort}`)),
    ).toBe(true);
    expect(testOf('worker')).toMatch(/WORKER_METRICS_PORT.*\/healthz/);
  });

  it('persists Redis with AOF fsynced every second, on a named volume, without eviction', () => {
    const redis = svc('redis');
    const argv = typeof redis.command === 'string' ? redis.command.split(/\s+/) : (redis.command ?? []);
    const option = (name: string) => argv[argv.indexOf(`--${name}`) + 1];
    expect(argv[0]).toBe('redis-server');
    expect(option('appendonly')).toBe('yes');
    expect(option('appendfsync')).toBe('everysec');
    expect(option('maxmemory-policy')).toBe('noeviction'); // BullMQ loses jobs otherwise
    const volume = redis.volumes?.map(String).find((v) => v.endsWith(':/data'));
    expect(volume, 'redis /data is a volume').toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(volume!.split(':')[0]);
    const pgVolume = svc('postgres')
      .volumes?.map(String)
      .find((v) => v.endsWith(':/var/lib/postgresql/data'));
    expect(Object.keys(compose.volumes ?? {})).toContain(pgVolume?.split(':')[0]);
  });

  it('lets the worker scale (--scale worker=N) and drain on SIGTERM', () => {
    const worker = svc('worker');
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports).toBeUndefined();
    // The drain waits for active jobs up to UPSTREAM_TIMEOUT_MS + 5 s (worker/worker-runner.ts).
    const upstreamTimeout = loadConfig(envOf(worker)).UPSTREAM_TIMEOUT_MS;
    const grace = durationMs(worker.stop_grace_period ?? '10s');
    expect(grace).toBeGreaterThanOrEqual(Math.max(45_000, upstreamTimeout + 10_000));
    const metricsPort = envOf(worker).WORKER_METRICS_PORT;
    expect(metricsPort, 'the worker has a metrics port').toMatch(/^\d+$/);
    expect(worker.expose?.map(String)).toContain(metricsPort);
  });

  it('sets only variables shared/config.ts reads, and the values it requires', () => {
    for (const name of APP_SERVICES) {
      for (const key of Object.keys(svc(name).environment ?? {})) {
        expect(CONFIG_KEYS.has(key) || EXTRA_ALLOWED.has(key), `${name}: ${key} is not a key of shared/config.ts`).toBe(
          true,
        );
      }
    }
    for (const name of ['api', 'worker']) {
      for (const key of REQUIRED_BY_CONFIG) expect(Object.keys(svc(name).environment ?? {}), name).toContain(key);
    }
    // scripts/migrate.ts reads DATABASE_URL only.
    expect(Object.keys(svc('migrate').environment ?? {})).toEqual(['DATABASE_URL']);
  });

  it('writes defaults the configuration accepts', () => {
    for (const name of ['api', 'worker']) {
      expect(() => loadConfig(envOf(svc(name))), name).not.toThrow();
    }
  });

  it('commits no secret: they come from the host, and compose refuses to start without them', () => {
    const secrets = [
      'DATABASE_URL',
      'REDIS_URL',
      'CONNECTORS_ENCRYPTION_KEYS',
      'BOOTSTRAP_WORKSPACE_KEY',
      'POSTGRES_PASSWORD',
    ];
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (!secrets.includes(key)) continue;
        expect(String(value), `${name}: ${key}`).toMatch(
          new RegExp(`^\\$\\{${key}:\\?set ${key}, see docs/operations\\.md\\}$`),
        );
        expect(() => envOf(s, { ...SAMPLE_HOST_ENV, [key]: undefined }), `${name}: ${key}`).toThrow(
          /required variable/,
        );
      }
    }
  });

  const composePlugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8', timeout: 10_000 }).status === 0;
  it.skipIf(!composePlugin)('is accepted by `docker compose config` (when the compose plugin is installed)', () => {
    const r = spawnSync('docker', ['compose', '-f', 'docker-compose.yml', 'config', '-q'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, ...SAMPLE_HOST_ENV },
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// The image

interface DockerInstruction {
  op: string;
  args: string;
}
function dockerfile(): DockerInstruction[] {
  const lines = read('Dockerfile')
    .split('\n')
    .filter((l) => !/^\s*#/.test(l));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

/** The files a process loads (following relative imports) and the packages it imports. */
function importClosure(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [...entries];
  while (queue.length) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    // Type-only imports are erased; everything else loads at run time.
    const source = read(file).replace(/^\s*(import|export)\s+type\s[^;]*;/gm, '');
    const specifiers = [
      ...source.matchAll(/^\s*(?:import|export)\s[^'";]*?\sfrom\s*['"]([^'"]+)['"]/gm),
      ...source.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
      ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((m) => m[1]!);
    for (const spec of specifiers) {
      if (spec.startsWith('.')) {
        const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec));
        expect(fs.existsSync(path.join(ROOT, target)), `${file} imports ${spec}`).toBe(true);
        if (target.endsWith('.ts')) queue.push(target);
      } else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) {
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
  }
  return { files, packages };
}

/** The Dockerfile's stages: `FROM <image> [AS <name>]` and the instructions after it. */
function stagesOf(
  instructions: DockerInstruction[],
): Array<{ name?: string; from: string; steps: DockerInstruction[] }> {
  const stages: Array<{ name?: string; from: string; steps: DockerInstruction[] }> = [];
  for (const i of instructions) {
    if (i.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args);
      stages.push({ from: m?.[1] ?? i.args, name: m?.[2], steps: [] });
    } else {
      stages.at(-1)?.steps.push(i);
    }
  }
  return stages;
}

/** The sources of `COPY [--from=x] a b … dest` (without a leading ./ or trailing /), and its --from. */
function copyOf(i: DockerInstruction): { from?: string; sources: string[]; dest: string } {
  const words = i.args.split(/\s+/);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((w) => !w.startsWith('--')).map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''));
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

describe('Dockerfile', () => {
  const instructions = dockerfile();
  const all = (op: string) => instructions.filter((i) => i.op === op);
  const last = (op: string) => all(op).at(-1);
  const stages = stagesOf(instructions);
  const final = stages.at(-1)!;
  const stage = (name: string | undefined) => stages.find((s) => s.name === name);
  const finalCopies = final.steps.filter((i) => i.op === 'COPY').map(copyOf);

  it('builds on node:24-bookworm-slim (Node 24, the current LTS), installs with npm ci, runs as a non-root user', () => {
    for (const from of all('FROM')) expect(from.args).toMatch(/^node:24-bookworm-slim(\s|$)/);
    expect(all('RUN').some((r) => /\bnpm ci\b/.test(r.args))).toBe(true);
    expect(last('USER')?.args).toMatch(/^(?!root\b|0\b)\S+/);
  });

  it('defaults to `npm run api`, an existing script', () => {
    const cmd = JSON.parse(last('CMD')!.args) as string[];
    expect(cmd).toEqual(['npm', 'run', 'api']);
    scriptOf(cmd);
  });

  it('lets SIGTERM reach the process through `npm run` (the scripts `exec` node; bash as a second guard)', () => {
    expect(all('ENV').some((e) => /\bnpm_config_script_shell=\/bin\/bash\b/.test(e.args))).toBe(true);
  });

  it('builds dist/ in a build stage from every source file api, worker, migrate and the cli load', () => {
    const scripts = ['api', 'worker', 'migrate', 'cli'].map((script) => scriptOf(['npm', 'run', script]));
    const { files } = importClosure(scripts.map((s) => s.file));
    expect(files.size, "the import walk found the processes' modules").toBeGreaterThan(20);
    const distCopy = finalCopies.find((c) => c.from && c.sources.includes('/app/dist'));
    expect(distCopy, 'the final image copies /app/dist from a build stage').toBeDefined();
    expect(distCopy!.dest).toBe('dist');
    const build = stage(distCopy!.from)!;
    expect(build, `stage ${distCopy!.from}`).toBeDefined();
    const runs = build.steps.filter((i) => i.op === 'RUN').map((r) => r.args);
    // A full install: esbuild is a devDependency.
    expect(
      runs.some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r)),
      'the build stage installs dev dependencies',
    ).toBe(true);
    expect(
      runs.some((r) => /^node scripts\/build\.mjs\b|\bnpm run build\b/.test(r)),
      'the build stage runs the build',
    ).toBe(true);
    const copied = build.steps.filter((i) => i.op === 'COPY').flatMap((c) => copyOf(c).sources);
    for (const file of [...files, 'scripts/build.mjs']) {
      const top = file.split(path.sep)[0]!;
      expect(copied, `the build stage lacks ${file}`).toContain(top === file ? file : top);
    }
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json']));
  });

  it('runs the prebuilt dist/ with production packages only, and without sources', () => {
    const scripts = ['api', 'worker', 'migrate', 'cli'].map((script) => scriptOf(['npm', 'run', script]));
    const { packages } = importClosure(scripts.map((s) => s.file));
    const fromContext = finalCopies.filter((c) => !c.from).flatMap((c) => c.sources);
    // package.json for the scripts; scripts/build.mjs, which they run first.
    expect(fromContext).toEqual(expect.arrayContaining(['package.json', 'scripts/build.mjs']));
    // No source of an entry in the image: scripts/build.mjs runs dist/ as is only where there are
    // no sources (it would refuse to run next to sources it cannot build without esbuild).
    for (const entry of ENTRIES) {
      for (const src of fromContext)
        expect(entry === src || entry.startsWith(`${src}/`), `the image holds ${entry} (COPY ${src})`).toBe(false);
    }
    // node_modules comes from `npm ci --omit=dev`: a package imported at run time must be a
    // dependency, not a devDependency (esbuild and tsx are devDependencies).
    const modules = finalCopies.find((c) => c.from && c.sources.some((s) => s.endsWith('node_modules')));
    expect(modules, 'the final image copies node_modules from an install stage').toBeDefined();
    const installs = stage(modules!.from)!
      .steps.filter((i) => i.op === 'RUN')
      .map((r) => r.args);
    expect(
      installs.some((r) => /\bnpm ci\b.*--omit=dev/.test(r)),
      `stage ${modules!.from} runs npm ci --omit=dev`,
    ).toBe(true);
    for (const p of packages) expect(Object.keys(pkg.dependencies), `${p} is imported at run time`).toContain(p);
    expect(Object.keys(pkg.dependencies)).not.toContain('esbuild');
  });

  it('scripts/build.mjs runs a prebuilt dist/ where there are no sources and no esbuild, and refuses next to sources', () => {
    // A directory outside the repository: esbuild does not resolve there, as in the image.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-image-'));
    try {
      fs.mkdirSync(path.join(dir, 'scripts'));
      fs.copyFileSync(path.join(ROOT, 'scripts/build.mjs'), path.join(dir, 'scripts/build.mjs'));
      const run = () =>
        spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
      expect(run().status, 'no sources and no dist').toBe(1);
      for (const entry of ENTRIES) {
        const built = path.join(dir, path.relative(ROOT, distFile(entry)));
        fs.mkdirSync(path.dirname(built), { recursive: true });
        fs.writeFileSync(built, '');
      }
      const image = run();
      expect(image.stderr).toContain('prebuilt');
      expect(image.status).toBe(0);
      fs.mkdirSync(path.join(dir, path.dirname(ENTRIES[0]!)), { recursive: true });
      fs.writeFileSync(path.join(dir, ENTRIES[0]!), '');
      const stale = run();
      expect(stale.stderr).toMatch(/esbuild is not installed/);
      expect(stale.status).toBe(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is built from a context without local state or secrets (.dockerignore)', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', '.data', '.git', '.env', 'dist', 'coverage']));
  });
});

describe('docs/operations.md', () => {
  const doc = read('docs/operations.md');
  it('documents every configuration variable and every variable docker-compose.yml reads', () => {
    const withoutComments = read('docker-compose.yml').replace(/^\s*#.*$/gm, '');
    const composeVars = [...withoutComments.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!);
    for (const key of new Set([...CONFIG_KEYS, ...composeVars])) expect(doc, key).toContain(`\`${key}\``);
  });

  it("lists connector settings only as the registry derives them, with the definitions' defaults", () => {
    // One way: a row must be right; a connector added since need not be listed (scripts/generate-docs.ts adds it).
    const settings = new Map(settingsOf(connectors).map((s) => [s.name, s]));
    const rows = [
      ...doc.matchAll(
        /^\| `([A-Z][A-Z0-9_]*_(?:API_URL|OAUTH_AUTHORIZE_URL|OAUTH_TOKEN_URL|CLIENT_ID|CLIENT_SECRET))` \| ([^|]*) \|/gm,
      ),
    ];
    expect(rows.length).toBeGreaterThan(0);
    for (const [, name, defaultValue] of rows) {
      const setting = settings.get(name!);
      expect(setting, `${name} is not a setting of any registered connector`).toBeDefined();
      expect(defaultValue!.trim(), name).toBe(setting!.default ?? '(unset)');
    }
  });
});
