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
  {
    name: 'resend',
    portEnv: 'RESEND_FAKE_PORT',
    defaultPort: 4010,
    start: (port) => startResendFake({ port }),
    info: `keys: ${RESEND_FAKE_FULL_KEY}, ${RESEND_FAKE_SENDING_KEY}`,
  },
  {
    name: 'slack',
    portEnv: 'SLACK_FAKE_PORT',
    defaultPort: 4011,
    start: async (port) => (await import('./slack/slack-fake.ts')).startSlackFake({ port }),
    info: 'API at <url>/api/; bot token xoxb-fake-1111-2222-abcdefghijklmnop, read-only token xoxb-fake-3333-4444-readonlyreadonly; OAuth client 1111111111.2222222222 / fakeclientsecret0123456789abcdef (rotation on)',
  },
  {
    name: 'elevenlabs',
    portEnv: 'ELEVENLABS_FAKE_PORT',
    defaultPort: 4012,
    start: async (port) => (await import('./elevenlabs/elevenlabs-fake.ts')).startElevenLabsFake({ port }),
    info: 'keys: sk_fa4e00000000000000000000000000000000000000000a11 (all permissions), sk_fa4e00000000000000000000000000000000000000007750 (text_to_speech only)',
  },
  {
    name: 'sendgrid',
    portEnv: 'SENDGRID_FAKE_PORT',
    defaultPort: 4013,
    start: async (port) => (await import('./sendgrid/sendgrid-fake.ts')).startSendGridFake({ port }),
    info: 'keys: SG.fakeFullAccess0000001.fakeSecretFullAccessKey00000000000000000000 (all scopes), SG.fakeMailSendOnly00002.fakeSecretMailSendOnlyKey000000000000000000 (mail.send only), SG.fakeTemplatesRead0003.fakeSecretTemplatesReadKey00000000000000000 (templates.read only); senders @example.com verified',
  },
  {
    name: 'twilio',
    portEnv: 'TWILIO_FAKE_PORT',
    defaultPort: 4014,
    start: async (port) => (await import('./twilio/twilio-fake.ts')).startTwilioFake({ port }),
    info: 'account AC0fa4e000000000000000000000000001 / token 0fa4e0000000000000000000a0717c0d (sender +15005550006, Messaging Service MG0fa4e000000000000000000000000001); test credentials AC0fa4e0000000000000000000000007e5 / 0fa4e0000000000000000000000007e5; magic To numbers +1500555000[1-4,9] fail as on Twilio',
  },
  {
    name: 'google',
    portEnv: 'GOOGLE_FAKE_PORT',
    defaultPort: 4015,
    start: async (port) => (await import('./google/google-fake.ts')).startGoogleFake({ port }),
    info: 'Gmail and Sheets APIs at <url>, OAuth at <url>/o/oauth2/v2/auth and <url>/token; client 123456789012-fakeclient0connector0engine.apps.googleusercontent.com / GOCSPX-fakeClientSecret0123456789ab; access token ya29.fake-all-scopes-a0a0a0a0a0a0a0a0a0a0a0a0 (all Gmail and Sheets scopes); signs in ada.lovelace@example.com',
  },
];

function portFrom(envName: string, fallback: number): number {
  const raw = process.env[envName];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`${envName} must be a port number, got "${raw}"`);
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
