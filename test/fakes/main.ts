// Standalone runner for developers: `npx tsx test/fakes/main.ts` (or `npm run fakes`).
// Starts every local fake on a fixed port and stops them on SIGINT/SIGTERM.
// To add a fake, add one entry to `fakes` below.
import { RESEND_FAKE_FULL_KEY, RESEND_FAKE_SENDING_KEY, startResendFake } from './resend/resend-fake.ts';

interface RunningFake {
  url: string;
  close(): Promise<void>;
}

interface FakeEntry {
  name: string;
  portEnv: string;
  defaultPort: number;
  start(port: number): Promise<RunningFake>;
  /** Extra info printed after the URL, e.g. the keys to use. */
  info: string;
}

const fakes: FakeEntry[] = [
  { name: 'resend', portEnv: 'RESEND_FAKE_PORT', defaultPort: 4010, start: (port) => startResendFake({ port }), info: `keys: ${RESEND_FAKE_FULL_KEY}, ${RESEND_FAKE_SENDING_KEY}` },
  { name: 'slack', portEnv: 'SLACK_FAKE_PORT', defaultPort: 4011, start: async (port) => (await import('./slack/slack-fake.ts')).startSlackFake({ port }), info: 'API at <url>/api/; bot token xoxb-fake-1111-2222-abcdefghijklmnop, read-only token xoxb-fake-3333-4444-readonlyreadonly; OAuth client 1111111111.2222222222 / fakeclientsecret0123456789abcdef (rotation on)' },
  { name: 'elevenlabs', portEnv: 'ELEVENLABS_FAKE_PORT', defaultPort: 4012, start: async (port) => (await import('./elevenlabs/elevenlabs-fake.ts')).startElevenLabsFake({ port }), info: 'keys: sk_fa4e00000000000000000000000000000000000000000a11 (all permissions), sk_fa4e00000000000000000000000000000000000000007750 (text_to_speech only)' },
];

function portFrom(envName: string, fallback: number): number {
  const raw = process.env[envName];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${envName} must be a port number, got "${raw}"`);
  return port;
}

const running: RunningFake[] = [];
try {
  for (const fake of fakes) {
    const server = await fake.start(portFrom(fake.portEnv, fake.defaultPort));
    running.push(server);
    console.log(`${fake.name} fake: ${server.url}  (${fake.info})`);
  }
} catch (err) {
  console.error('could not start the fakes:', err instanceof Error ? err.message : err);
  await Promise.allSettled(running.map((s) => s.close()));
  process.exit(1);
}

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping fakes`);
  await Promise.allSettled(running.map((s) => s.close()));
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
