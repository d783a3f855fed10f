// Checks the ElevenLabs fake with the official `@elevenlabs/elevenlabs-js` SDK as its
// client, so the fake stays compatible with what real clients parse. SDK facts used
// here (v2.73, checked in its source): the constructor takes `apiKey`, `baseUrl` and
// `maxRetries` (default 2; it retries 408/429/5xx); non-2xx answers throw
// `ElevenLabsError { statusCode, body, rawResponse }`, and 422 throws the subclass
// `ElevenLabs.UnprocessableEntityError`. 401 is NOT mapped to `UnauthorizedError` by
// these endpoints, it is a plain ElevenLabsError with statusCode 401. Audio endpoints
// resolve to a web ReadableStream<Uint8Array>.
import { ElevenLabs, ElevenLabsClient, ElevenLabsError } from '@elevenlabs/elevenlabs-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_SOUND_EFFECT_COST,
  ELEVENLABS_FAKE_KEY,
  ELEVENLABS_FAKE_TTS_ONLY_KEY,
  type ElevenLabsFake,
  fakeAudio,
  RACHEL_VOICE_ID,
  startElevenLabsFake,
  ttsDurationSeconds,
} from './elevenlabs-fake.ts';

let fake: ElevenLabsFake;
const client = (apiKey = ELEVENLABS_FAKE_KEY) => new ElevenLabsClient({ apiKey, baseUrl: fake.url, maxRetries: 0 });

beforeAll(async () => {
  fake = await startElevenLabsFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** Runs `fn`, expects it to throw an ElevenLabsError, and returns it. */
async function sdkError(fn: () => Promise<unknown>): Promise<ElevenLabsError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ElevenLabsError);
    return err as ElevenLabsError;
  }
  throw new Error('expected the call to throw');
}

const detail = (err: ElevenLabsError) => (err.body as { detail: Record<string, unknown> }).detail;

function raw(
  path: string,
  init: { method?: string; key?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.key !== null) headers['xi-api-key'] = init.key ?? ELEVENLABS_FAKE_KEY;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${fake.url}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  });
}

describe('text to speech (SDK)', () => {
  it('convert returns MP3 bytes; the fake records the generation and charges len(text)', async () => {
    const text = 'Hello from the fake.';
    const { data, rawResponse } = await client()
      .textToSpeech.convert(RACHEL_VOICE_ID, { text, modelId: 'eleven_multilingual_v2', outputFormat: 'mp3_44100_128' })
      .withRawResponse();
    const audio = await readAll(data);
    expect(audio.subarray(0, 3).toString('latin1')).toBe('ID3');
    expect(audio.subarray(10, 12)).toEqual(Buffer.from([0xff, 0xfb])); // first MPEG frame header
    expect(rawResponse.headers.get('content-type')).toBe('audio/mpeg');
    expect(rawResponse.headers.get('character-cost')).toBe(String(text.length));
    expect(rawResponse.headers.get('request-id')).toMatch(/^[A-Za-z0-9]{20}$/);

    expect(fake.generated).toHaveLength(1);
    expect(fake.generated[0]).toMatchObject({
      kind: 'tts',
      voiceId: RACHEL_VOICE_ID,
      sfx: false,
      text,
      modelId: 'eleven_multilingual_v2',
      outputFormat: 'mp3_44100_128',
      bytes: audio.length,
      cost: text.length,
    });
    expect(fake.generated[0]?.audio.equals(audio)).toBe(true);
    expect(
      audio.equals(
        fakeAudio(
          'mp3_44100_128',
          ttsDurationSeconds(text),
          `tts\n${RACHEL_VOICE_ID}\neleven_multilingual_v2\nmp3_44100_128\n\n${text}`,
        ),
      ),
    ).toBe(true);
    expect(fake.keyUsage(ELEVENLABS_FAKE_KEY)).toMatchObject({ creditsUsed: text.length });
    expect(fake.requests[0]).toMatchObject({
      method: 'POST',
      path: `/v1/text-to-speech/${RACHEL_VOICE_ID}`,
      query: { output_format: 'mp3_44100_128' },
      json: { text, model_id: 'eleven_multilingual_v2' },
    });
    expect(fake.requests[0]?.headers['xi-api-key']).toBe(ELEVENLABS_FAKE_KEY);
  });

  it('audio is deterministic and grows with the text; default model is eleven_multilingual_v2', async () => {
    const a = await readAll(await client().textToSpeech.convert(RACHEL_VOICE_ID, { text: 'short' }));
    const b = await readAll(await client().textToSpeech.convert(RACHEL_VOICE_ID, { text: 'short' }));
    const c = await readAll(
      await client().textToSpeech.convert(RACHEL_VOICE_ID, { text: 'a considerably longer sentence than before' }),
    );
    expect(a.equals(b)).toBe(true);
    expect(c.length).toBeGreaterThan(a.length);
    expect(fake.generated.map((g) => g.modelId)).toEqual(Array(3).fill('eleven_multilingual_v2'));
  });

  it('passes voice_settings and seed through', async () => {
    await client().textToSpeech.convert(RACHEL_VOICE_ID, {
      text: 'x',
      seed: 42,
      voiceSettings: { stability: 0.3, similarityBoost: 0.8, style: 0, useSpeakerBoost: true, speed: 1.1 },
    });
    expect(fake.generated[0]?.body).toMatchObject({
      seed: 42,
      voice_settings: { stability: 0.3, similarity_boost: 0.8, use_speaker_boost: true, speed: 1.1 },
    });
  });

  it('unknown voice: 404 voice_not_found', async () => {
    const err = await sdkError(() => client().textToSpeech.convert('nope', { text: 'hi' }));
    expect(err.statusCode).toBe(404);
    expect(detail(err)).toEqual({
      status: 'voice_not_found',
      message: 'A voice with the voice_id nope was not found.',
    });
    expect(fake.generated).toHaveLength(0);
  });

  it('text over the model limit: 400 max_character_limit_exceeded, nothing charged', async () => {
    const err = await sdkError(() =>
      client().textToSpeech.convert(RACHEL_VOICE_ID, { text: 'a'.repeat(3001), modelId: 'eleven_v3' }),
    );
    expect(err.statusCode).toBe(400);
    expect(detail(err)).toEqual({
      status: 'max_character_limit_exceeded',
      message: "This request's text has 3001 characters and exceeds the character limit of 3000 characters.",
    });
    expect(fake.keyUsage(ELEVENLABS_FAKE_KEY).creditsUsed).toBe(0);
  });
});

describe('voices (SDK)', () => {
  it('voices.getAll parses; legacy voices only with showLegacy', async () => {
    const { voices } = await client().voices.getAll();
    const rachel = voices.find((v) => v.voiceId === RACHEL_VOICE_ID);
    expect(rachel).toMatchObject({
      name: 'Rachel',
      category: 'premade',
      availableForTiers: [],
      labels: expect.objectContaining({ gender: 'female' }),
    });
    expect(rachel?.highQualityBaseModelIds).toContain('eleven_multilingual_v2');
    expect(voices.some((v) => v.isLegacy)).toBe(false);
    const all = await client().voices.getAll({ showLegacy: true });
    expect(all.voices.length).toBe(voices.length + 1);
  });

  it('voices.search paginates with next_page_token and reports total_count', async () => {
    const first = await client().voices.search({ pageSize: 4 });
    expect(first).toMatchObject({ hasMore: true, totalCount: fake.voices.length });
    expect(first.voices).toHaveLength(4);
    expect(first.nextPageToken).toEqual(expect.any(String));
    const second = await client().voices.search({ pageSize: 4, nextPageToken: first.nextPageToken });
    expect(second.hasMore).toBe(false);
    expect(second.nextPageToken).toBeUndefined(); // null on the wire
    expect([...first.voices, ...second.voices].map((v) => v.voiceId)).toEqual(fake.voices.map((v) => v.voice_id));
  });

  it('voices.search filters by search term, voice type and category; sorts by name', async () => {
    const rachel = await client().voices.search({ search: 'RACHEL' });
    expect(rachel.voices.map((v) => v.name)).toEqual(['Rachel']);
    const personal = await client().voices.search({ voiceType: 'personal' });
    expect(personal.voices.map((v) => v.category)).toEqual(['cloned']);
    const premade = await client().voices.search({ category: 'premade', sort: 'name', sortDirection: 'asc' });
    expect(premade.voices.map((v) => v.name)).toEqual(['Adam', 'Laura', 'Rachel', 'Roger', 'Sarah']);
  });

  it('page_size over 100 is a 422 UnprocessableEntityError', async () => {
    const err = await sdkError(() => client().voices.search({ pageSize: 101 }));
    expect(err).toBeInstanceOf(ElevenLabs.UnprocessableEntityError);
    expect(err.statusCode).toBe(422);
    expect(err.body).toEqual({
      detail: [
        {
          loc: ['query', 'page_size'],
          msg: 'ensure this value is less than or equal to 100',
          type: 'value_error.number.not_le',
          ctx: { limit_value: 100 },
        },
      ],
    });
  });

  it('the voice list is settable and TTS follows it', async () => {
    fake.voices = [{ ...fake.voices[0]!, voice_id: 'custom00000000000001', name: 'Custom' }];
    const { voices } = await client().voices.getAll();
    expect(voices.map((v) => v.name)).toEqual(['Custom']);
    await client().textToSpeech.convert('custom00000000000001', { text: 'ok' });
    const err = await sdkError(() => client().textToSpeech.convert(RACHEL_VOICE_ID, { text: 'gone' }));
    expect(detail(err).status).toBe('voice_not_found');
  });
});

describe('user (SDK)', () => {
  it('user.get parses and the subscription reflects credits used', async () => {
    await client().textToSpeech.convert(RACHEL_VOICE_ID, { text: '12345678' });
    const user = await client().user.get();
    expect(user).toMatchObject({
      userId: fake.user.user_id,
      isNewUser: false,
      isOnboardingCompleted: true,
      createdAt: fake.user.created_at,
    });
    expect(user.subscription).toMatchObject({
      tier: 'creator',
      status: 'active',
      characterCount: 8,
      characterLimit: 1_000_000,
    });
  });

  it('a key with a small quota shows it', async () => {
    fake.addKey('sk_small', { creditsRemaining: 50 });
    const user = await client('sk_small').user.get();
    expect(user.subscription).toMatchObject({ characterCount: 0, characterLimit: 50 });
  });
});

describe('sound effects (SDK)', () => {
  it('textToSoundEffects.convert returns MP3 bytes and charges the fixed cost', async () => {
    const { data, rawResponse } = await client()
      .textToSoundEffects.convert({
        text: 'A door creaks open',
        durationSeconds: 2,
        promptInfluence: 0.5,
        loop: true,
        modelId: 'eleven_text_to_sound_v2',
      })
      .withRawResponse();
    const audio = await readAll(data);
    expect(audio.subarray(0, 3).toString('latin1')).toBe('ID3');
    expect(rawResponse.headers.get('character-cost')).toBe(String(DEFAULT_SOUND_EFFECT_COST));
    expect(fake.generated[0]).toMatchObject({
      kind: 'sfx',
      sfx: true,
      text: 'A door creaks open',
      durationSeconds: 2,
      bytes: audio.length,
      cost: DEFAULT_SOUND_EFFECT_COST,
    });
    expect(fake.generated[0]?.voiceId).toBeUndefined();
    expect(fake.requests[0]?.json).toEqual({
      text: 'A door creaks open',
      duration_seconds: 2,
      prompt_influence: 0.5,
      loop: true,
      model_id: 'eleven_text_to_sound_v2',
    });
  });

  it('duration outside 0.5–30 s is a 422 UnprocessableEntityError', async () => {
    const err = await sdkError(() => client().textToSoundEffects.convert({ text: 'boom', durationSeconds: 31 }));
    expect(err).toBeInstanceOf(ElevenLabs.UnprocessableEntityError);
    expect(err.body).toEqual({
      detail: [
        {
          loc: ['body', 'duration_seconds'],
          msg: 'ensure this value is less than or equal to 30',
          type: 'value_error.number.not_le',
          ctx: { limit_value: 30 },
        },
      ],
    });
    const low = await sdkError(() =>
      client().textToSoundEffects.convert({ text: 'boom', durationSeconds: 0.4, promptInfluence: 2 }),
    );
    expect((low.body as { detail: unknown[] }).detail).toHaveLength(2);
    expect(fake.generated).toHaveLength(0);
  });
});

describe('auth, permissions, quota (SDK)', () => {
  it('an unknown key is a 401 with detail.status invalid_api_key', async () => {
    const err = await sdkError(() => client('sk_unknown').user.get());
    expect(err.statusCode).toBe(401);
    expect(err.body).toEqual({ detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
  });

  it('a revoked key is invalid_api_key too, on every endpoint', async () => {
    fake.revokeKey(ELEVENLABS_FAKE_KEY);
    const err = await sdkError(() => client().textToSpeech.convert(RACHEL_VOICE_ID, { text: 'hi' }));
    expect([err.statusCode, detail(err).status]).toEqual([401, 'invalid_api_key']);
  });

  it('the current envelope adds type, code and request_id', async () => {
    fake.setErrorEnvelope('current');
    const err = await sdkError(() => client('sk_unknown').voices.getAll());
    expect(detail(err)).toEqual({
      type: 'authentication_error',
      code: 'invalid_api_key',
      status: 'invalid_api_key',
      message: 'Invalid API key',
      request_id: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
  });

  it('the TTS-only key can speak but gets 401 missing_permissions on user and voices', async () => {
    await readAll(await client(ELEVENLABS_FAKE_TTS_ONLY_KEY).textToSpeech.convert(RACHEL_VOICE_ID, { text: 'ok' }));
    const user = await sdkError(() => client(ELEVENLABS_FAKE_TTS_ONLY_KEY).user.get());
    expect(user.statusCode).toBe(401);
    expect(detail(user)).toEqual({
      status: 'missing_permissions',
      message: 'The API key you used is missing the permission user_read to execute this operation.',
    });
    const voices = await sdkError(() => client(ELEVENLABS_FAKE_TTS_ONLY_KEY).voices.search());
    expect(detail(voices).message).toContain('missing the permission voices_read');
    const sfx = await sdkError(() => client(ELEVENLABS_FAKE_TTS_ONLY_KEY).textToSoundEffects.convert({ text: 'boom' }));
    expect(detail(sfx).message).toContain('missing the permission sound_generation');
  });

  it('missing_permissions in the current envelope: authentication_error / unauthorized', async () => {
    fake.setErrorEnvelope('current');
    const err = await sdkError(() => client(ELEVENLABS_FAKE_TTS_ONLY_KEY).user.get());
    expect(detail(err)).toMatchObject({
      type: 'authentication_error',
      code: 'unauthorized',
      status: 'missing_permissions',
    });
  });

  it('not enough credits: 401 quota_exceeded with the observed message; nothing charged', async () => {
    fake.addKey('sk_quota', { creditsRemaining: 10 });
    await readAll(await client('sk_quota').textToSpeech.convert(RACHEL_VOICE_ID, { text: '1234567' })); // 7 of 10
    const err = await sdkError(() => client('sk_quota').textToSpeech.convert(RACHEL_VOICE_ID, { text: 'four' }));
    expect(err.statusCode).toBe(401);
    expect(detail(err)).toEqual({
      status: 'quota_exceeded',
      message:
        'This request exceeds your quota of 10. You have 3 credits remaining, while 4 credits are required for this request.',
    });
    expect(fake.keyUsage('sk_quota')).toMatchObject({ creditsUsed: 7, creditsRemaining: 3 });
    await client('sk_quota').textToSpeech.convert(RACHEL_VOICE_ID, { text: 'abc' }); // exactly the rest
    expect(fake.keyUsage('sk_quota').creditsRemaining).toBe(0);
    fake.setCredits('sk_quota', 1000);
    await client('sk_quota').textToSpeech.convert(RACHEL_VOICE_ID, { text: 'again' });
    expect(fake.generated).toHaveLength(3);
  });

  it('sound effects need their fixed cost in credits', async () => {
    fake.addKey('sk_sfx', { creditsRemaining: DEFAULT_SOUND_EFFECT_COST - 1 });
    const err = await sdkError(() => client('sk_sfx').textToSoundEffects.convert({ text: 'boom' }));
    expect(detail(err).status).toBe('quota_exceeded');
  });
});

describe('concurrency and injected failures (SDK)', () => {
  it('over the concurrency cap: 429 concurrent_limit_exceeded without Retry-After', async () => {
    fake.setConcurrencyLimit(1);
    fake.setLatency(200);
    fake.setErrorEnvelope('current');
    const first = client().textToSpeech.convert(RACHEL_VOICE_ID, { text: 'first' });
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.inFlight).toBe(1);
    const err = await sdkError(() => client().textToSpeech.convert(RACHEL_VOICE_ID, { text: 'second' }));
    expect(err.statusCode).toBe(429);
    expect(detail(err)).toMatchObject({
      type: 'rate_limit_error',
      code: 'concurrent_limit_exceeded',
      status: 'too_many_concurrent_requests',
      message: expect.any(String),
    });
    expect(err.rawResponse?.headers.get('retry-after')).toBeNull();
    await readAll(await first);
    expect(fake.generated.map((g) => g.text)).toEqual(['first']);
    expect(fake.keyUsage(ELEVENLABS_FAKE_KEY).creditsUsed).toBe(5);
    fake.setLatency(0);
    await client().textToSpeech.convert(RACHEL_VOICE_ID, { text: 'third' }); // slot free again
  });

  it('rateLimitNext(n) gives the same 429 on demand, then recovers', async () => {
    fake.rateLimitNext(1);
    const err = await sdkError(() => client().textToSoundEffects.convert({ text: 'boom' }));
    expect(err.statusCode).toBe(429);
    expect(detail(err).status).toBe('too_many_concurrent_requests');
    expect(err.rawResponse?.headers.get('retry-after')).toBeNull();
    await client().textToSoundEffects.convert({ text: 'boom' });
    expect(fake.generated).toHaveLength(1);
  });

  it('failNext injects system_busy (and any other error), then recovers', async () => {
    fake.failNext(1, 'system_busy');
    fake.failNext(1, { httpStatus: 500, status: 'internal_error', message: 'boom' });
    const busy = await sdkError(() => client().textToSpeech.convert(RACHEL_VOICE_ID, { text: 'hi' }));
    expect([busy.statusCode, detail(busy).status]).toEqual([429, 'system_busy']);
    expect(busy.rawResponse?.headers.get('retry-after')).toBeNull();
    const fivehundred = await sdkError(() => client().user.get());
    expect(fivehundred.body).toEqual({ detail: { status: 'internal_error', message: 'boom' } });
    await client().textToSpeech.convert(RACHEL_VOICE_ID, { text: 'hi' });
    expect(fake.generated).toHaveLength(1);
    expect(fake.keyUsage(ELEVENLABS_FAKE_KEY).creditsUsed).toBe(2);
  });

  it('dropNextConnections: a network failure, nothing generated', async () => {
    fake.dropNextConnections(1);
    await expect(client().textToSpeech.convert(RACHEL_VOICE_ID, { text: 'hi' })).rejects.toThrow();
    expect(fake.generated).toHaveLength(0);
    expect(fake.requests).toHaveLength(1);
  });
});

describe('raw wire checks', () => {
  it('TTS success headers: audio/mpeg, request-id, character-cost, concurrency, no retry-after', async () => {
    const res = await raw(`/v1/text-to-speech/${RACHEL_VOICE_ID}?output_format=mp3_44100_128`, {
      body: { text: 'Hello' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    expect(res.headers.get('character-cost')).toBe('5');
    expect(res.headers.get('request-id')).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(res.headers.get('history-item-id')).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(res.headers.get('current-concurrent-requests')).toBe('1');
    expect(res.headers.get('maximum-concurrent-requests')).toBe('10');
    expect(res.headers.get('retry-after')).toBeNull();
    const audio = Buffer.from(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(audio.length);
    expect(audio.length).toBe(fake.generated[0]?.bytes);
  });

  it('concurrency headers count in-flight requests', async () => {
    fake.setConcurrencyLimit(3);
    fake.setLatency(100);
    const results = await Promise.all(
      [1, 2].map(() => raw(`/v1/text-to-speech/${RACHEL_VOICE_ID}`, { body: { text: 'x' } })),
    );
    expect(results.map((r) => r.headers.get('current-concurrent-requests')).sort()).toEqual(['1', '2']);
    expect(results.map((r) => r.headers.get('maximum-concurrent-requests'))).toEqual(['3', '3']);
  });

  it('pcm output: audio/pcm (UNCONFIRMED), 16-bit mono at the sample rate', async () => {
    const res = await raw(`/v1/text-to-speech/${RACHEL_VOICE_ID}?output_format=pcm_16000`, {
      body: { text: 'ten chars!' },
    });
    expect(res.headers.get('content-type')).toBe('audio/pcm');
    const audio = Buffer.from(await res.arrayBuffer());
    expect(audio.length).toBe(Math.round(ttsDurationSeconds('ten chars!') * 16000) * 2);
  });

  it('sound generation success headers', async () => {
    const res = await raw('/v1/sound-generation', { body: { text: 'rain', duration_seconds: 1 } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    expect(res.headers.get('character-cost')).toBe(String(DEFAULT_SOUND_EFFECT_COST));
    expect(res.headers.get('request-id')).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(res.headers.get('current-concurrent-requests')).toBe('1');
  });

  it('no key: 401 invalid_api_key, JSON', async () => {
    const res = await raw('/v1/user', { key: null });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
  });

  it('missing text: 422 with the FastAPI detail array', async () => {
    const res = await raw(`/v1/text-to-speech/${RACHEL_VOICE_ID}`, { body: { model_id: 'eleven_multilingual_v2' } });
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({
      detail: [{ loc: ['body', 'text'], msg: 'field required', type: 'value_error.missing' }],
    });
    expect(fake.generated).toHaveLength(0);
  });

  it('bad output_format, missing body and malformed JSON are 422s', async () => {
    const bad = await raw(`/v1/text-to-speech/${RACHEL_VOICE_ID}?output_format=flac_1`, { body: { text: 'x' } });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { detail: unknown[] }).detail[0]).toMatchObject({
      loc: ['query', 'output_format'],
      type: 'type_error.enum',
    });
    const empty = await raw('/v1/sound-generation', { method: 'POST' });
    expect(await empty.json()).toEqual({
      detail: [{ loc: ['body'], msg: 'field required', type: 'value_error.missing' }],
    });
    const malformed = await raw('/v1/sound-generation', { body: '{"text":' });
    expect(malformed.status).toBe(422);
    expect(((await malformed.json()) as { detail: { type: string }[] }).detail[0]?.type).toBe('value_error.jsondecode');
  });

  it('unknown model: 400 model_not_found (status value UNCONFIRMED)', async () => {
    const res = await raw(`/v1/text-to-speech/${RACHEL_VOICE_ID}`, { body: { text: 'x', model_id: 'eleven_nope' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { detail: { status: string } }).detail.status).toBe('model_not_found');
  });

  it('unknown route 404 and wrong method 405, FastAPI style', async () => {
    const notFound = await raw('/v1/nope');
    expect([notFound.status, await notFound.json()]).toEqual([404, { detail: 'Not Found' }]);
    const wrong = await raw('/v1/user', { method: 'DELETE' });
    expect([wrong.status, await wrong.json()]).toEqual([405, { detail: 'Method Not Allowed' }]);
  });

  it('voiceNotFoundStatus: 400 is selectable', async () => {
    const other = await startElevenLabsFake({ voiceNotFoundStatus: 400 });
    try {
      const res = await fetch(`${other.url}/v1/text-to-speech/nope`, {
        method: 'POST',
        headers: { 'xi-api-key': ELEVENLABS_FAKE_KEY, 'content-type': 'application/json' },
        body: '{"text":"x"}',
      });
      expect(res.status).toBe(400);
    } finally {
      await other.close();
    }
  });

  it('reset restores keys, voices, envelope and limits and clears records', async () => {
    fake.revokeKey(ELEVENLABS_FAKE_KEY);
    fake.voices = [];
    fake.setErrorEnvelope('current');
    fake.setConcurrencyLimit(0);
    fake.rateLimitNext(5);
    await raw('/v1/user');
    fake.reset();
    expect(fake.requests).toHaveLength(0);
    const res = await raw(`/v1/text-to-speech/${RACHEL_VOICE_ID}`, { body: { text: 'back' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('maximum-concurrent-requests')).toBe('10');
    const err = await raw('/v1/user', { key: 'sk_unknown' });
    expect(await err.json()).toEqual({ detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
  });
});
