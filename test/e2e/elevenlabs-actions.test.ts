import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ELEVENLABS_FAKE_KEY,
  ELEVENLABS_FAKE_TTS_ONLY_KEY,
  type ElevenLabsFake,
  RACHEL_VOICE_ID,
  startElevenLabsFake,
} from '../fakes/elevenlabs/elevenlabs-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

/** Every ElevenLabs action through HTTP → queue → worker → fake, and its error table. */
describe('ElevenLabs connector end to end', () => {
  let fake: ElevenLabsFake;
  let engine: Engine;
  let admin: ApiClient;
  let client: ApiClient;
  let projectKey: string;
  let connectionId: string;

  beforeAll(async () => {
    fake = await startElevenLabsFake();
    engine = await startEngine({ env: { ELEVENLABS_API_URL: fake.url } });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    const setup = await setUpProject(admin, {
      connectorId: 'elevenlabs',
      credentials: { apiKey: ELEVENLABS_FAKE_KEY },
    });
    expect(setup.connectionStatus).toBe('active');
    ({ projectKey, connectionId } = setup);
    client = apiClient(engine.baseUrl, projectKey);
  });
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });

  const execute = (actionId: string, input: unknown) =>
    client.post('/v1/executions', { connectorId: 'elevenlabs', actionId, input });
  const lastRequest = (path: string) => fake.requests.filter((r) => r.path === path).at(-1)!;

  it('textToSpeech sends the documented request and returns the audio as an artifact', async () => {
    const res = await execute('textToSpeech', {
      voiceId: RACHEL_VOICE_ID,
      text: 'Your order has shipped.',
      modelId: 'eleven_multilingual_v2',
      outputFormat: 'mp3_44100_128',
      voiceSettings: { stability: 0.5, similarityBoost: 0.75 },
    });
    expect(res.status).toBe(200);
    const req = lastRequest(`/v1/text-to-speech/${RACHEL_VOICE_ID}`);
    expect(req.method).toBe('POST');
    expect(req.headers['xi-api-key']).toBe(ELEVENLABS_FAKE_KEY);
    expect(req.headers.authorization).toBeUndefined();
    expect(req.headers['content-type']).toMatch(/^application\/json/);
    expect(req.query).toMatchObject({ output_format: 'mp3_44100_128' });
    expect(req.json).toEqual({
      text: 'Your order has shipped.',
      model_id: 'eleven_multilingual_v2',
      voice_settings: { stability: 0.5, similarity_boost: 0.75 },
    });

    const generated = fake.generated.at(-1)!;
    expect(res.body.output).toEqual({
      audio: {
        contentType: 'audio/mpeg',
        sizeBytes: generated.bytes,
        url: `/v1/invocations/${res.body.invocationId}/artifacts/audio`,
      },
      characterCost: expect.any(Number),
      requestId: expect.any(String),
    });
    // Downloadable with the caller's key, byte for byte; not with another tenant's.
    const download = await fetch(`${engine.baseUrl}${res.body.output.audio.url}`, {
      headers: { authorization: `Bearer ${projectKey}` },
    });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('audio/mpeg');
    // Never sniffed into something a browser would run, and saved as a file.
    expect(download.headers.get('x-content-type-options')).toBe('nosniff');
    expect(download.headers.get('content-disposition')).toBe(
      `attachment; filename="${res.body.invocationId}-audio.mp3"`,
    );
    expect(Buffer.from(await download.arrayBuffer()).equals(generated.audio)).toBe(true);
    const other = await setUpProject(admin, {
      connectorId: 'elevenlabs',
      credentials: { apiKey: ELEVENLABS_FAKE_KEY },
    });
    expect(
      (
        await fetch(`${engine.baseUrl}${res.body.output.audio.url}`, {
          headers: { authorization: `Bearer ${other.projectKey}` },
        })
      ).status,
    ).toBe(404);
  });

  it('generateSoundEffect sends the documented request and returns an artifact', async () => {
    const res = await execute('generateSoundEffect', {
      text: 'Cash register ding',
      durationSeconds: 2,
      promptInfluence: 0.5,
    });
    expect(res.status).toBe(200);
    const req = lastRequest('/v1/sound-generation');
    expect(req.method).toBe('POST');
    expect(req.headers['xi-api-key']).toBe(ELEVENLABS_FAKE_KEY);
    expect(req.json).toEqual({ text: 'Cash register ding', duration_seconds: 2, prompt_influence: 0.5 });
    expect(res.body.output.audio).toMatchObject({ contentType: 'audio/mpeg', sizeBytes: fake.generated.at(-1)!.bytes });
    expect(res.body.output.audio.url).toBe(`/v1/invocations/${res.body.invocationId}/artifacts/audio`);
  });

  it('listVoices pages with limit and cursor', async () => {
    const first = await execute('listVoices', { limit: 1 });
    expect(first.status).toBe(200);
    const req = lastRequest('/v2/voices');
    expect(req.method).toBe('GET');
    expect(req.query).toMatchObject({ page_size: '1' });
    expect(first.body.output.voices).toHaveLength(1);
    expect(first.body.output.voices[0]).toEqual({
      voiceId: expect.any(String),
      name: expect.any(String),
      category: expect.any(String),
      labels: expect.any(Object),
      description: expect.toBeOneOf([null, expect.any(String)]),
      previewUrl: expect.toBeOneOf([null, expect.any(String)]),
    });
    expect(first.body.output.nextCursor).toEqual(expect.any(String));
    const second = await execute('listVoices', { limit: 1, cursor: first.body.output.nextCursor });
    expect(lastRequest('/v2/voices').query).toMatchObject({ next_page_token: first.body.output.nextCursor });
    expect(second.body.output.voices[0].voiceId).not.toBe(first.body.output.voices[0].voiceId);
  });

  it('treats a key without user_read as valid', async () => {
    const conn = await admin.post('/v1/connections', {
      connectorId: 'elevenlabs',
      displayName: 'TTS only',
      credentials: { apiKey: ELEVENLABS_FAKE_TTS_ONLY_KEY },
    });
    expect(conn.body.status).toBe('active');
  });

  it('does not break the connection on quota_exceeded (a 401) or missing permissions, but does on invalid_api_key', async () => {
    const quotaKey = 'sk_quota_000000000000000000000000000000000000001';
    fake.addKey(quotaKey, { creditsRemaining: 3 });
    const quota = await setUpProject(admin, { connectorId: 'elevenlabs', credentials: { apiKey: quotaKey } });
    const quotaClient = apiClient(engine.baseUrl, quota.projectKey);
    const res = await quotaClient.post('/v1/executions', {
      connectorId: 'elevenlabs',
      actionId: 'textToSpeech',
      input: { voiceId: RACHEL_VOICE_ID, text: 'Far more than three credits' },
    });
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({ code: 'upstream_error', details: { status: 401, code: 'quota_exceeded' } });
    expect((await admin.get(`/v1/connections/${quota.connectionId}`)).body.status).toBe('active');

    const ttsOnly = await setUpProject(admin, {
      connectorId: 'elevenlabs',
      credentials: { apiKey: ELEVENLABS_FAKE_TTS_ONLY_KEY },
    });
    const perm = await apiClient(engine.baseUrl, ttsOnly.projectKey).post('/v1/executions', {
      connectorId: 'elevenlabs',
      actionId: 'listVoices',
      input: {},
    });
    expect(perm.body.error.details).toMatchObject({ status: 401, code: 'missing_permissions' });
    expect((await admin.get(`/v1/connections/${ttsOnly.connectionId}`)).body.status).toBe('active');

    fake.revokeKey(ELEVENLABS_FAKE_KEY);
    try {
      const broken = await execute('listVoices', {});
      expect(broken.status).toBe(409);
      expect(broken.body.error.code).toBe('connection_broken');
      expect((await admin.get(`/v1/connections/${connectionId}`)).body).toMatchObject({ status: 'broken' });
    } finally {
      fake.addKey(ELEVENLABS_FAKE_KEY, {});
    }
    const healed = await admin.patch(`/v1/connections/${connectionId}`, {
      credentials: { apiKey: ELEVENLABS_FAKE_KEY },
    });
    expect(healed.body.status).toBe('active');
  });

  it('rejects invalid input before anything is queued', async () => {
    const res = await execute('generateSoundEffect', { text: '', durationSeconds: 31 });
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'input.durationSeconds',
      'input.text',
    ]);
  });
});
