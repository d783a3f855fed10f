// Local fake of the ElevenLabs HTTP API: POST /v1/text-to-speech/{voice_id},
// POST /v1/sound-generation, GET /v1/voices, GET /v2/voices, GET /v1/user.
// Wire behaviour follows docs/upstreams/elevenlabs.md §3 and §4 ("the
// reference") and ElevenLabs' OpenAPI spec (E-OAS there). Where the newer official SDK
// (@elevenlabs/elevenlabs-js, E-JS) requires more fields than E-OAS, the fake sends
// them too so the SDK's response parsers accept it. Details marked UNCONFIRMED are
// guesses: don't build hard assertions on them.
//
// Decisions worth knowing:
// - Routing happens first (unknown path → FastAPI 404 `{"detail":"Not Found"}`), then
//   auth, then injected failures (`failNext`), then permissions, then validation, then
//   the quota and concurrency checks. The order of auth vs. 422 on the real API is UNCONFIRMED.
// - Missing, blank, unknown and revoked keys all get 401 `invalid_api_key`.
// - Credits are tracked per key (a key-level quota, which the real API supports);
//   GET /v1/user reports that key's quota as `subscription.character_count/limit`.
// - `voice_not_found` is 404 by default: an ElevenLabs maintainer's 2025-07 SDK output
//   (elevenlabs-docs PR #1317) shows 404 "A voice with the voice_id foo was not found.";
//   2024 reports show 400. Switch with the `voiceNotFoundStatus` start option.
// - Only TTS and sound generation count toward the concurrency limit and carry the
//   concurrency headers; the other endpoints are never 429'd by the cap.
import { createHash, randomBytes } from 'node:crypto';
import type { StartConformanceFake } from '../../conformance/fake-contract.ts';
import {
  type DropOptions,
  type FakeResponse,
  type FakeServer,
  type HandlerContext,
  type RecordedRequest,
  startFakeServer,
} from '../support/fake-server.ts';

// ---- public constants ---------------------------------------------------------------

/** All permissions, plenty of credits. Real keys are `sk_` + 48 hex chars. */
export const ELEVENLABS_FAKE_KEY = 'sk_fa4e00000000000000000000000000000000000000000a11';
/** Only `text_to_speech`: GET /v1/user and the voice lists give 401 missing_permissions. */
export const ELEVENLABS_FAKE_TTS_ONLY_KEY = 'sk_fa4e00000000000000000000000000000000000000007750';

/** Permission names the fake checks (OBSERVED in real error messages, reference §3.0). */
export const ELEVENLABS_PERMISSIONS = ['text_to_speech', 'sound_generation', 'voices_read', 'user_read'] as const;
export type ElevenLabsPermission = (typeof ELEVENLABS_PERMISSIONS)[number];

export const RACHEL_VOICE_ID = '21m00Tcm4TlvDq8ikWAM';
export const DEFAULT_TTS_MODEL = 'eleven_multilingual_v2';
export const DEFAULT_OUTPUT_FORMAT = 'mp3_44100_128';
/** Credits a default key starts with. */
export const DEFAULT_CREDITS = 1_000_000;
/** Credits charged per sound effect (fixed; the real pricing is UNCONFIRMED). */
export const DEFAULT_SOUND_EFFECT_COST = 200;
/** Real plans allow 2–15 concurrent TTS requests; 10 matches an observed `maximum-concurrent-requests: 10`. */
export const DEFAULT_CONCURRENCY_LIMIT = 10;
/** Fake speech lasts 60 ms per character (≈16 chars/s). */
export const TTS_MS_PER_CHAR = 60;
/** Duration of a sound effect when `duration_seconds` is absent (the real one is inferred; UNCONFIRMED). */
export const DEFAULT_SFX_DURATION_SECONDS = 5;

/** Per-request character limits by model (models.mdx, reference §3.1). */
export const MODEL_CHARACTER_LIMITS: Record<string, number> = {
  eleven_v3: 3_000,
  eleven_flash_v2_5: 40_000,
  eleven_turbo_v2_5: 40_000,
  eleven_flash_v2: 30_000,
  eleven_turbo_v2: 30_000,
  eleven_multilingual_v2: 10_000,
  eleven_multilingual_v1: 10_000,
  eleven_monolingual_v1: 10_000,
  eleven_english_sts_v2: 10_000,
};
export const SFX_MODELS = ['eleven_text_to_sound_v2', 'eleven_text_to_sound_v1'];

/** E-OAS enum plus the formats the newer E-JS adds. */
export const OUTPUT_FORMATS = [
  'mp3_22050_32',
  'mp3_24000_48',
  'mp3_44100_32',
  'mp3_44100_64',
  'mp3_44100_96',
  'mp3_44100_128',
  'mp3_44100_192',
  'pcm_8000',
  'pcm_16000',
  'pcm_22050',
  'pcm_24000',
  'pcm_32000',
  'pcm_44100',
  'pcm_48000',
  'ulaw_8000',
  'alaw_8000',
  'opus_48000_32',
  'opus_48000_64',
  'opus_48000_96',
  'opus_48000_128',
  'opus_48000_192',
  'wav_8000',
  'wav_16000',
  'wav_22050',
  'wav_24000',
  'wav_32000',
  'wav_44100',
  'wav_48000',
] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

// ---- public types -------------------------------------------------------------------

export interface VoiceSettings {
  stability?: number | null;
  similarity_boost?: number | null;
  style?: number | null;
  use_speaker_boost?: boolean | null;
  speed?: number | null;
}

/** E-OAS VoiceResponseModel: the first six fields are required; more optional ones exist. */
export interface ElevenLabsVoice {
  voice_id: string;
  name: string;
  category: 'premade' | 'cloned' | 'generated' | 'professional' | 'famous' | 'high_quality';
  labels: Record<string, string>;
  available_for_tiers: string[];
  high_quality_base_model_ids: string[];
  description?: string | null;
  preview_url?: string | null;
  settings?: VoiceSettings | null;
  samples?: unknown[] | null;
  fine_tuning?: unknown;
  sharing?: unknown;
  verified_languages?: unknown[] | null;
  is_owner?: boolean | null;
  is_legacy?: boolean;
  is_mixed?: boolean;
  created_at_unix?: number | null;
  [extra: string]: unknown;
}

export interface KeyOptions {
  /** Defaults to all of ELEVENLABS_PERMISSIONS. Any string is accepted. */
  permissions?: string[];
  /** Credit quota of the key; defaults to DEFAULT_CREDITS. */
  creditsRemaining?: number;
}

export interface KeyUsage {
  permissions: string[];
  creditLimit: number;
  creditsUsed: number;
  creditsRemaining: number;
  revoked: boolean;
}

export interface GeneratedAudio {
  kind: 'tts' | 'sfx';
  /** TTS only. */
  voiceId?: string;
  /** true for sound effects. */
  sfx: boolean;
  text: string;
  modelId: string;
  outputFormat: OutputFormat;
  /** Size of `audio`. */
  bytes: number;
  audio: Buffer;
  durationSeconds: number;
  /** Credits charged (the `character-cost` header). */
  cost: number;
  requestId: string;
  apiKey: string;
  /** The JSON body as received. */
  body: Record<string, unknown>;
  at: Date;
}

export type ErrorEnvelope = 'legacy' | 'current';

/**
 * An ElevenLabs error. `status` is the legacy `detail.status` value; `type`/`code`
 * are only sent with the 'current' envelope (defaults: the preset for `status`, else
 * `type: "api_error"`, `code: status`).
 */
export interface ElevenLabsErrorSpec {
  httpStatus: number;
  status: string;
  message: string;
  type?: string;
  code?: string;
  param?: string;
  headers?: Record<string, string>;
}

/** Preset errors usable by name with `failNext`. */
export const ELEVENLABS_ERRORS = {
  system_busy: {
    httpStatus: 429,
    status: 'system_busy',
    type: 'rate_limit_error', // UNCONFIRMED
    code: 'system_busy', // UNCONFIRMED
    message: 'Our services are experiencing high levels of traffic and your request could not be processed.', // wording UNCONFIRMED
  },
  too_many_concurrent_requests: {
    httpStatus: 429,
    status: 'too_many_concurrent_requests',
    type: 'rate_limit_error', // OBSERVED
    code: 'concurrent_limit_exceeded', // CONFIRMED (E-DOCS)
    message: 'Too many concurrent requests.', // wording UNCONFIRMED
  },
  rate_limit_exceeded: {
    httpStatus: 429,
    status: 'rate_limit_exceeded',
    type: 'rate_limit_error',
    code: 'rate_limit_exceeded', // CONFIRMED (E-DOCS)
    message: 'Too many requests in a short period. Please slow down.', // wording UNCONFIRMED
  },
  internal_server_error: {
    httpStatus: 500,
    status: 'internal_server_error',
    type: 'api_error', // UNCONFIRMED
    code: 'internal_server_error',
    message: 'An internal server error occurred.',
  },
  paid_plan_required: {
    httpStatus: 402,
    status: 'payment_required', // OBSERVED (dograh-hq/dograh #290): status differs from code here
    type: 'payment_required',
    code: 'paid_plan_required',
    message: 'Free users cannot use library voices via the API. Please upgrade your subscription to use this voice.',
  },
} satisfies Record<string, ElevenLabsErrorSpec>;
export type ElevenLabsErrorName = keyof typeof ELEVENLABS_ERRORS;

export interface ElevenLabsFakeOptions {
  port?: number;
  /** 404 (default, newest observation) or 400 (older reports) for `voice_not_found`. */
  voiceNotFoundStatus?: 400 | 404;
}

/** Fields of GET /v1/user that tests may want to change. */
export interface UserProfile {
  user_id: string;
  workspace_id: string;
  first_name: string | null;
  tier: string;
  status: 'trialing' | 'active' | 'incomplete' | 'past_due' | 'free' | 'free_disabled';
  created_at: number;
  next_character_count_reset_unix: number;
  voice_limit: number;
}

// ---- fake audio -------------------------------------------------------------------------

/**
 * Deterministic fake audio for `format` lasting `durationSeconds`; `seed` varies the
 * payload. mp3: an empty ID3v2.4 tag (10 bytes) then valid MPEG frame headers, so it
 * starts with `ID3` and looks like an MP3 to sniffers. pcm: 16-bit LE mono samples.
 * The byte layout of non-mp3 formats (and their content types) is UNCONFIRMED.
 */
export function fakeAudio(format: OutputFormat, durationSeconds: number, seed: string): Buffer {
  const [codec, rateText, bitrateText] = format.split('_') as [string, string, string | undefined];
  const rate = Number(rateText);
  const noise = (n: number) => fill(n, seed);
  switch (codec) {
    case 'mp3': {
      const kbps = Number(bitrateText);
      const mpeg1 = rate === 44100;
      const samplesPerFrame = mpeg1 ? 1152 : 576;
      const frameLength = Math.floor(((mpeg1 ? 144 : 72) * kbps * 1000) / rate);
      const frames = Math.max(1, Math.ceil((durationSeconds * rate) / samplesPerFrame));
      const header = mp3FrameHeader(mpeg1, kbps, rate);
      const payload = noise(frameLength - 4);
      const parts: Buffer[] = [Buffer.from([0x49, 0x44, 0x33, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00])];
      for (let i = 0; i < frames; i++) parts.push(header, payload);
      return Buffer.concat(parts);
    }
    case 'pcm':
      return noise(Math.max(1, Math.round(durationSeconds * rate)) * 2);
    case 'wav': {
      const data = noise(Math.max(1, Math.round(durationSeconds * rate)) * 2);
      const h = Buffer.alloc(44);
      h.write('RIFF', 0, 'ascii');
      h.writeUInt32LE(36 + data.length, 4);
      h.write('WAVEfmt ', 8, 'ascii');
      h.writeUInt32LE(16, 16);
      h.writeUInt16LE(1, 20); // PCM
      h.writeUInt16LE(1, 22); // mono
      h.writeUInt32LE(rate, 24);
      h.writeUInt32LE(rate * 2, 28);
      h.writeUInt16LE(2, 32);
      h.writeUInt16LE(16, 34);
      h.write('data', 36, 'ascii');
      h.writeUInt32LE(data.length, 40);
      return Buffer.concat([h, data]);
    }
    case 'ulaw':
    case 'alaw':
      return noise(Math.max(1, Math.round(durationSeconds * rate)));
    case 'opus': {
      const size = Math.max(1, Math.round((Number(bitrateText) * 1000 * durationSeconds) / 8));
      return Buffer.concat([Buffer.from('OggS\0', 'latin1'), noise(size)]);
    }
  }
  throw new Error(`unsupported format ${format}`);
}

/** Content-Type per format. Only audio/mpeg is CONFIRMED (E-OAS); the rest are UNCONFIRMED. */
export function audioContentType(format: OutputFormat): string {
  if (format.startsWith('mp3_')) return 'audio/mpeg';
  if (format.startsWith('pcm_')) return 'audio/pcm';
  if (format.startsWith('wav_')) return 'audio/wav';
  if (format.startsWith('opus_')) return 'audio/ogg';
  return 'audio/basic'; // ulaw/alaw
}

/** Duration of fake speech for `text`. */
export function ttsDurationSeconds(text: string): number {
  return (charCount(text) * TTS_MS_PER_CHAR) / 1000;
}

function mp3FrameHeader(mpeg1: boolean, kbps: number, rate: number): Buffer {
  const mpeg1Index: Record<number, number> = {
    32: 1,
    40: 2,
    48: 3,
    56: 4,
    64: 5,
    80: 6,
    96: 7,
    112: 8,
    128: 9,
    160: 10,
    192: 11,
    224: 12,
    256: 13,
    320: 14,
  };
  const mpeg2Index: Record<number, number> = {
    8: 1,
    16: 2,
    24: 3,
    32: 4,
    40: 5,
    48: 6,
    56: 7,
    64: 8,
    80: 9,
    96: 10,
    112: 11,
    128: 12,
    144: 13,
    160: 14,
  };
  const bitrateIndex = (mpeg1 ? mpeg1Index : mpeg2Index)[kbps] ?? 9;
  const rateIndex = mpeg1 ? 0 : rate === 24000 ? 1 : 0; // 44100 / 22050: index 0; 24000: index 1
  // 0xFFFB: sync + MPEG-1 Layer III, no CRC; 0xFFF3: same for MPEG-2. 0x64: joint stereo, original.
  return Buffer.from([0xff, mpeg1 ? 0xfb : 0xf3, (bitrateIndex << 4) | (rateIndex << 2), 0x64]);
}

function fill(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < length; offset += block.length) {
    block.copy(out, offset, 0, Math.min(block.length, length - offset));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** Characters as the API bills them: Unicode code points (UNCONFIRMED for astral characters). */
function charCount(text: string): number {
  return [...text].length;
}

// ---- seed data --------------------------------------------------------------------

function premade(
  voice_id: string,
  name: string,
  labels: Record<string, string>,
  description: string,
  created: number,
): ElevenLabsVoice {
  return {
    voice_id,
    name,
    samples: null,
    category: 'premade',
    fine_tuning: null,
    labels,
    description,
    preview_url: `https://storage.googleapis.com/eleven-public-prod/premade/voices/${voice_id}/preview.mp3`,
    available_for_tiers: [],
    settings: null,
    sharing: null,
    high_quality_base_model_ids: [
      'eleven_v2_flash',
      'eleven_flash_v2',
      'eleven_turbo_v2_5',
      'eleven_multilingual_v2',
      'eleven_v2_5_flash',
      'eleven_flash_v2_5',
      'eleven_turbo_v2',
    ],
    verified_languages: [],
    safety_control: null,
    voice_verification: null,
    permission_on_resource: null,
    is_owner: false,
    is_legacy: false,
    is_mixed: false,
    created_at_unix: created,
  };
}

/** A few premade voices (real ids), one legacy premade voice and one cloned voice owned by the user. */
export function seedVoices(): ElevenLabsVoice[] {
  return [
    premade(
      RACHEL_VOICE_ID,
      'Rachel',
      {
        accent: 'american',
        descriptive: 'calm',
        age: 'young',
        gender: 'female',
        language: 'en',
        use_case: 'narrative_story',
      },
      'Matter-of-fact, personable woman. Great for narration.',
      1_690_000_000,
    ),
    premade(
      'EXAVITQu4vr4xnSDxMaL',
      'Sarah',
      {
        accent: 'american',
        descriptive: 'professional',
        age: 'young',
        gender: 'female',
        language: 'en',
        use_case: 'entertainment_tv',
      },
      'Young adult woman with a confident and warm, mature quality.',
      1_690_000_100,
    ),
    premade(
      'CwhRBWXzGAHq8TQ4Fs17',
      'Roger',
      {
        accent: 'american',
        descriptive: 'classy',
        age: 'middle_aged',
        gender: 'male',
        language: 'en',
        use_case: 'conversational',
      },
      'Easy going and perfect for casual conversations.',
      1_690_000_200,
    ),
    premade(
      'FGY2WhTYpPnrIDTdsKH5',
      'Laura',
      {
        accent: 'american',
        descriptive: 'sassy',
        age: 'young',
        gender: 'female',
        language: 'en',
        use_case: 'social_media',
      },
      'This young adult female voice delivers sunny enthusiasm with a quirky attitude.',
      1_690_000_300,
    ),
    {
      ...premade(
        'pNInz6obpgDQGcFmaJgB',
        'Adam',
        { accent: 'american', age: 'middle_aged', gender: 'male', use_case: 'narration' },
        'A legacy premade voice.',
        1_680_000_000,
      ),
      is_legacy: true,
    },
    {
      voice_id: 'cL0nEdV0icE00000fake',
      name: 'My Narrator',
      samples: [],
      category: 'cloned',
      fine_tuning: null,
      labels: { accent: 'british', gender: 'male' },
      description: 'Instant voice clone made in the fake.',
      preview_url: null,
      available_for_tiers: [],
      settings: { stability: 0.5, similarity_boost: 0.75, style: 0, use_speaker_boost: true, speed: 1 },
      sharing: null,
      high_quality_base_model_ids: [],
      verified_languages: [],
      is_owner: true,
      is_legacy: false,
      is_mixed: false,
      created_at_unix: 1_735_689_600,
    },
  ];
}

function defaultProfile(): UserProfile {
  return {
    user_id: 'fakeUser0000000000000000001',
    workspace_id: 'fakeWorkspace000000000000001',
    first_name: 'Ada',
    tier: 'creator',
    status: 'active',
    created_at: 1_700_000_000,
    next_character_count_reset_unix: 1_893_456_000,
    voice_limit: 30,
  };
}

// ---- the fake ---------------------------------------------------------------------------

interface KeyInfo {
  permissions: Set<string>;
  creditLimit: number;
  creditsUsed: number;
  revoked: boolean;
}

type Route =
  | { kind: 'tts'; voiceId: string; permission: 'text_to_speech' }
  | { kind: 'sfx'; permission: 'sound_generation' }
  | { kind: 'voices_v1'; permission: 'voices_read' }
  | { kind: 'voices_v2'; permission: 'voices_read' }
  | { kind: 'user'; permission: 'user_read' };

interface ValidationItem {
  loc: (string | number)[];
  msg: string;
  type: string;
  ctx?: Record<string, unknown>;
}

export class ElevenLabsFake {
  /** Every successful TTS / sound generation, in order. */
  readonly generated: GeneratedAudio[] = [];
  /** What the voice lists show and TTS accepts. Assign freely in tests. */
  voices: ElevenLabsVoice[] = seedVoices();
  /** Identity/subscription fields of GET /v1/user. Assign or mutate freely. */
  user: UserProfile = defaultProfile();

  private keys = new Map<string, KeyInfo>();
  private envelope: ErrorEnvelope = 'legacy';
  private concurrencyLimit = DEFAULT_CONCURRENCY_LIMIT;
  private inFlightCount = 0;
  private pendingRateLimits = 0;
  private soundEffectCost = DEFAULT_SOUND_EFFECT_COST;

  private constructor(
    private readonly server: FakeServer,
    private readonly voiceNotFoundStatus: 400 | 404,
  ) {
    this.addDefaultKeys();
  }

  /** @internal use startElevenLabsFake */
  static async start(options: ElevenLabsFakeOptions = {}): Promise<ElevenLabsFake> {
    let fake: ElevenLabsFake | undefined;
    const server = await startFakeServer((req, ctx) => fake!.handle(req, ctx), { port: options.port });
    fake = new ElevenLabsFake(server, options.voiceNotFoundStatus ?? 404);
    return fake;
  }

  get url(): string {
    return this.server.url;
  }
  get port(): number {
    return this.server.port;
  }
  get requests(): RecordedRequest[] {
    return this.server.requests;
  }
  /** TTS / sound generations currently being processed. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Registers (or replaces) a key. */
  addKey(key: string, options: KeyOptions = {}): void {
    this.keys.set(key, {
      permissions: new Set(options.permissions ?? ELEVENLABS_PERMISSIONS),
      creditLimit: options.creditsRemaining ?? DEFAULT_CREDITS,
      creditsUsed: 0,
      revoked: false,
    });
  }
  /** A revoked key answers like an unknown one: 401 invalid_api_key. */
  revokeKey(key: string): void {
    const info = this.keys.get(key);
    if (info) info.revoked = true;
  }
  /** Sets the remaining credits of a key (keeps the usage so far; the quota grows or shrinks). */
  setCredits(key: string, creditsRemaining: number): void {
    const info = this.mustKey(key);
    info.creditLimit = info.creditsUsed + creditsRemaining;
  }
  keyUsage(key: string): KeyUsage {
    const info = this.mustKey(key);
    return {
      permissions: [...info.permissions],
      creditLimit: info.creditLimit,
      creditsUsed: info.creditsUsed,
      creditsRemaining: info.creditLimit - info.creditsUsed,
      revoked: info.revoked,
    };
  }
  /** 'legacy' (default): `{detail:{status,message}}`; 'current' adds type, code, request_id (and param). */
  setErrorEnvelope(envelope: ErrorEnvelope): void {
    this.envelope = envelope;
  }
  /** Max concurrent TTS/SFX requests; extra ones get 429 too_many_concurrent_requests. */
  setConcurrencyLimit(n: number): void {
    this.concurrencyLimit = n;
  }
  /** The next n TTS/SFX requests get the concurrency 429 (as if over the limit). */
  rateLimitNext(n: number): void {
    this.pendingRateLimits += n;
  }
  setSoundEffectCost(credits: number): void {
    this.soundEffectCost = credits;
  }
  setLatency(ms: number): void {
    this.server.setLatency(ms);
  }
  /**
   * The next n requests that pass authentication get this error instead of being
   * processed (nothing generated or charged). Name a preset (e.g. 'system_busy') or give a spec.
   */
  failNext(n: number, error: ElevenLabsErrorName | ElevenLabsErrorSpec): void {
    const spec: ElevenLabsErrorSpec = typeof error === 'string' ? ELEVENLABS_ERRORS[error] : error;
    // The envelope is chosen when the error is sent; the toolkit just queues a marker.
    this.server.failNext(n, { status: spec.httpStatus, body: { [INJECTED]: spec } });
  }
  /** Destroy the socket of the next n requests without answering (network failure). */
  dropNextConnections(n: number, options?: DropOptions): void {
    this.server.dropNextConnections(n, options);
  }
  /** Back to the initial state: default keys/voices/user/limits/envelope, nothing recorded. */
  reset(): void {
    this.server.reset();
    this.generated.length = 0;
    this.voices = seedVoices();
    this.user = defaultProfile();
    this.keys.clear();
    this.addDefaultKeys();
    this.envelope = 'legacy';
    this.concurrencyLimit = DEFAULT_CONCURRENCY_LIMIT;
    this.pendingRateLimits = 0;
    this.soundEffectCost = DEFAULT_SOUND_EFFECT_COST;
    // inFlightCount is left alone: requests still running will decrement it.
  }
  close(): Promise<void> {
    return this.server.close();
  }

  private addDefaultKeys(): void {
    this.addKey(ELEVENLABS_FAKE_KEY);
    this.addKey(ELEVENLABS_FAKE_TTS_ONLY_KEY, { permissions: ['text_to_speech'] });
  }
  private mustKey(key: string): KeyInfo {
    const info = this.keys.get(key);
    if (!info) throw new Error(`unknown ElevenLabs fake key ${key}`);
    return info;
  }

  // ---- request pipeline -------------------------------------------------------

  private async handle(req: RecordedRequest, ctx: HandlerContext): Promise<FakeResponse> {
    const route = matchRoute(req);
    if ('status' in route) return route;

    const apiKey = req.headers['xi-api-key']?.trim();
    const key = apiKey ? this.keys.get(apiKey) : undefined;
    if (!apiKey || !key || key.revoked) {
      // OBSERVED body (reference §3.0). Also used for a missing header (real wording for that case UNCONFIRMED).
      return this.error({
        httpStatus: 401,
        status: 'invalid_api_key',
        type: 'authentication_error',
        code: 'invalid_api_key',
        message: 'Invalid API key',
      });
    }

    const injected = ctx.takeInjectedResponse();
    if (injected) {
      const spec = (injected.body as Record<symbol, ElevenLabsErrorSpec> | undefined)?.[INJECTED];
      return spec ? this.error(spec) : injected;
    }

    if (!key.permissions.has(route.permission)) {
      return this.error({
        httpStatus: 401,
        status: 'missing_permissions',
        type: 'authentication_error', // OBSERVED
        code: 'unauthorized', // OBSERVED
        message: `The API key you used is missing the permission ${route.permission} to execute this operation.`,
      });
    }

    switch (route.kind) {
      case 'tts':
        return this.textToSpeech(req, ctx, route.voiceId, apiKey, key);
      case 'sfx':
        return this.soundGeneration(req, ctx, apiKey, key);
      case 'voices_v1':
        return this.listVoicesV1(req);
      case 'voices_v2':
        return this.listVoicesV2(req);
      case 'user':
        return this.getUser(key);
    }
  }

  // ---- endpoints ----------------------------------------------------------------

  private async textToSpeech(
    req: RecordedRequest,
    ctx: HandlerContext,
    voiceId: string,
    apiKey: string,
    key: KeyInfo,
  ): Promise<FakeResponse> {
    const parsed = parseBody(req);
    if ('errors' in parsed) return validationError(parsed.errors);
    const body = parsed.value;
    const errors: ValidationItem[] = [];
    const format = outputFormat(req, errors);
    requireString(body, 'text', errors);
    optionalType(body, 'model_id', 'string', errors);
    optionalType(body, 'language_code', 'string', errors);
    optionalType(body, 'previous_text', 'string', errors);
    optionalType(body, 'next_text', 'string', errors);
    optionalType(body, 'apply_language_text_normalization', 'boolean', errors);
    optionalType(body, 'use_pvc_as_ivc', 'boolean', errors);
    if (body.seed !== undefined && body.seed !== null) {
      if (!Number.isInteger(body.seed))
        errors.push({ loc: ['body', 'seed'], msg: 'value is not a valid integer', type: 'type_error.integer' });
      else numberRange(body, 'seed', 0, 4_294_967_295, errors);
    }
    if (
      body.apply_text_normalization !== undefined &&
      !['auto', 'on', 'off'].includes(body.apply_text_normalization as string)
    ) {
      errors.push(enumError(['body', 'apply_text_normalization'], ['auto', 'on', 'off']));
    }
    if (body.voice_settings !== undefined && body.voice_settings !== null) {
      if (!isObject(body.voice_settings)) {
        errors.push({ loc: ['body', 'voice_settings'], msg: 'value is not a valid dict', type: 'type_error.dict' });
      } else {
        for (const f of ['stability', 'similarity_boost', 'style', 'speed']) {
          const v = body.voice_settings[f];
          if (v !== undefined && v !== null && typeof v !== 'number')
            errors.push({
              loc: ['body', 'voice_settings', f],
              msg: 'value is not a valid float',
              type: 'type_error.float',
            });
        }
        const boost = body.voice_settings.use_speaker_boost;
        if (boost !== undefined && boost !== null && typeof boost !== 'boolean')
          errors.push({
            loc: ['body', 'voice_settings', 'use_speaker_boost'],
            msg: 'value could not be parsed to a boolean',
            type: 'type_error.bool',
          });
      }
    }
    for (const f of ['previous_request_ids', 'next_request_ids', 'pronunciation_dictionary_locators']) {
      const v = body[f];
      if (v === undefined || v === null) continue;
      if (!Array.isArray(v))
        errors.push({ loc: ['body', f], msg: 'value is not a valid list', type: 'type_error.list' });
      else if (v.length > 3)
        errors.push({
          loc: ['body', f],
          msg: 'ensure this value has at most 3 items',
          type: 'value_error.list.max_items',
          ctx: { limit_value: 3 },
        });
    }
    if (errors.length > 0 || !format) return validationError(errors);

    const text = body.text as string;
    const modelId = (body.model_id as string | undefined) ?? DEFAULT_TTS_MODEL;
    if (!this.voices.some((v) => v.voice_id === voiceId)) {
      // Message as in elevenlabs-docs PR #1317 (2025-07); 2024 reports say "A voice for the voice_id … was not found."
      return this.error({
        httpStatus: this.voiceNotFoundStatus,
        status: 'voice_not_found',
        type: 'not_found_error',
        code: 'voice_not_found',
        param: 'voice_id',
        message: `A voice with the voice_id ${voiceId} was not found.`,
      });
    }
    const limit = MODEL_CHARACTER_LIMITS[modelId];
    if (limit === undefined) {
      // 400 with this wording seen in 2023 reports; the status value is UNCONFIRMED.
      return this.error({
        httpStatus: 400,
        status: 'model_not_found',
        type: 'invalid_request_error',
        code: 'model_not_found',
        param: 'model_id',
        message: `A model with model ID ${modelId} does not exist.`,
      });
    }
    const chars = charCount(text);
    if (chars > limit) {
      // 400 and wording from the ElevenLabs help center example.
      return this.error({
        httpStatus: 400,
        status: 'max_character_limit_exceeded',
        type: 'validation_error',
        code: 'max_character_limit_exceeded',
        param: 'text',
        message: `This request's text has ${chars} characters and exceeds the character limit of ${limit} characters.`,
      });
    }

    const seed = `tts\n${voiceId}\n${modelId}\n${format}\n${body.seed ?? ''}\n${text}`;
    return this.generate(ctx, key, chars, format, (requestId) => {
      const durationSeconds = ttsDurationSeconds(text);
      const audio = fakeAudio(format, durationSeconds, seed);
      const entry: GeneratedAudio = {
        kind: 'tts',
        voiceId,
        sfx: false,
        text,
        modelId,
        outputFormat: format,
        bytes: audio.length,
        audio,
        durationSeconds,
        cost: chars,
        requestId,
        apiKey,
        body,
        at: new Date(),
      };
      return { entry, headers: { 'history-item-id': randomId(20) } };
    });
  }

  private async soundGeneration(
    req: RecordedRequest,
    ctx: HandlerContext,
    apiKey: string,
    key: KeyInfo,
  ): Promise<FakeResponse> {
    const parsed = parseBody(req);
    if ('errors' in parsed) return validationError(parsed.errors);
    const body = parsed.value;
    const errors: ValidationItem[] = [];
    const format = outputFormat(req, errors);
    requireString(body, 'text', errors);
    if (optionalType(body, 'duration_seconds', 'number', errors))
      numberRange(body, 'duration_seconds', 0.5, 30, errors);
    if (optionalType(body, 'prompt_influence', 'number', errors)) numberRange(body, 'prompt_influence', 0, 1, errors);
    optionalType(body, 'loop', 'boolean', errors);
    if (optionalType(body, 'model_id', 'string', errors) && !SFX_MODELS.includes(body.model_id as string)) {
      errors.push(enumError(['body', 'model_id'], SFX_MODELS)); // how the real API rejects an unknown SFX model is UNCONFIRMED
    }
    if (errors.length > 0 || !format) return validationError(errors);

    const text = body.text as string;
    const modelId = (body.model_id as string | undefined) ?? 'eleven_text_to_sound_v2'; // real default UNCONFIRMED
    const durationSeconds = (body.duration_seconds as number | null | undefined) ?? DEFAULT_SFX_DURATION_SECONDS;
    const cost = this.soundEffectCost;
    const seed = `sfx\n${modelId}\n${format}\n${durationSeconds}\n${body.prompt_influence ?? ''}\n${body.loop ?? ''}\n${text}`;
    return this.generate(ctx, key, cost, format, (requestId) => {
      const audio = fakeAudio(format, durationSeconds, seed);
      return {
        entry: {
          kind: 'sfx',
          sfx: true,
          text,
          modelId,
          outputFormat: format,
          bytes: audio.length,
          audio,
          durationSeconds,
          cost,
          requestId,
          apiKey,
          body,
          at: new Date(),
        },
        headers: {},
      };
    });
  }

  /** Quota, concurrency and latency shared by TTS and SFX; charges on success only. */
  private async generate(
    ctx: HandlerContext,
    key: KeyInfo,
    cost: number,
    format: OutputFormat,
    make: (requestId: string) => { entry: GeneratedAudio; headers: Record<string, string> },
  ): Promise<FakeResponse> {
    const remaining = key.creditLimit - key.creditsUsed;
    if (cost > remaining) {
      // 401 and wording OBSERVED (home-assistant/core #160414); 402 in newer docs is UNCONFIRMED.
      return this.error({
        httpStatus: 401,
        status: 'quota_exceeded',
        type: 'authentication_error', // UNCONFIRMED
        code: 'quota_exceeded',
        message: `This request exceeds your quota of ${key.creditLimit}. You have ${Math.max(0, remaining)} credits remaining, while ${cost} credits are required for this request.`,
      });
    }
    if (this.pendingRateLimits > 0 || this.inFlightCount >= this.concurrencyLimit) {
      if (this.pendingRateLimits > 0) this.pendingRateLimits--;
      // Body fields OBSERVED (3rd-party measurement, 2026-08); no Retry-After header, as measured.
      return this.error({
        ...ELEVENLABS_ERRORS.too_many_concurrent_requests,
        message: `Too many concurrent requests. Your current subscription allows a maximum of ${this.concurrencyLimit} concurrent requests. Please wait for earlier requests to finish.`, // wording UNCONFIRMED
      });
    }

    // Reserve the credits now so concurrent requests can't overdraw; refund if the handler throws.
    key.creditsUsed += cost;
    this.inFlightCount++;
    const current = this.inFlightCount;
    let result: ReturnType<typeof make>;
    const requestId = randomId(20);
    try {
      await ctx.simulateLatency(); // the window in which this request occupies a concurrency slot
      result = make(requestId);
    } catch (err) {
      key.creditsUsed -= cost;
      throw err;
    } finally {
      this.inFlightCount--;
    }
    this.generated.push(result.entry);
    return {
      status: 200,
      headers: {
        'content-type': audioContentType(format),
        'request-id': requestId,
        'character-cost': String(cost),
        'current-concurrent-requests': String(current),
        'maximum-concurrent-requests': String(this.concurrencyLimit),
        ...result.headers,
      },
      body: result.entry.audio,
    };
  }

  private listVoicesV1(req: RecordedRequest): FakeResponse {
    const errors: ValidationItem[] = [];
    const showLegacy = boolQuery(req, 'show_legacy', false, errors);
    if (errors.length > 0) return validationError(errors);
    return json({ voices: this.voices.filter((v) => showLegacy || !v.is_legacy) });
  }

  private listVoicesV2(req: RecordedRequest): FakeResponse {
    const errors: ValidationItem[] = [];
    const q = req.query;
    let pageSize = 10;
    if (q.page_size !== undefined) {
      pageSize = Number(q.page_size);
      if (!/^-?\d+$/.test(q.page_size))
        errors.push({ loc: ['query', 'page_size'], msg: 'value is not a valid integer', type: 'type_error.integer' });
      else if (pageSize > 100)
        errors.push({
          loc: ['query', 'page_size'],
          msg: 'ensure this value is less than or equal to 100',
          type: 'value_error.number.not_le',
          ctx: { limit_value: 100 },
        });
      else if (pageSize < 1)
        errors.push({
          loc: ['query', 'page_size'],
          msg: 'ensure this value is greater than or equal to 1',
          type: 'value_error.number.not_ge',
          ctx: { limit_value: 1 },
        }); // UNCONFIRMED
    }
    let offset = 0;
    if (q.next_page_token) {
      const decoded = decodePageToken(q.next_page_token);
      if (decoded === undefined)
        errors.push({ loc: ['query', 'next_page_token'], msg: 'invalid page token', type: 'value_error' }); // UNCONFIRMED
      else offset = decoded;
    }
    if (q.sort !== undefined && !['created_at_unix', 'name'].includes(q.sort))
      errors.push(enumError(['query', 'sort'], ['created_at_unix', 'name']));
    if (q.sort_direction !== undefined && !['asc', 'desc'].includes(q.sort_direction))
      errors.push(enumError(['query', 'sort_direction'], ['asc', 'desc']));
    boolQuery(req, 'include_total_count', true, errors);
    if (errors.length > 0) return validationError(errors);

    let list = [...this.voices];
    const search = q.search?.trim().toLowerCase();
    if (search) {
      list = list.filter((v) =>
        [v.name, v.description ?? '', v.category, ...Object.values(v.labels)].some((s) =>
          s.toLowerCase().includes(search),
        ),
      );
    }
    if (q.category) list = list.filter((v) => v.category === q.category);
    if (q.voice_type) {
      const t = q.voice_type;
      list = list.filter(
        (v) =>
          t === 'default'
            ? v.category === 'premade'
            : t === 'non-default' || t === 'non-community'
              ? v.category !== 'premade'
              : t === 'personal' || t === 'workspace' || t === 'saved'
                ? v.is_owner === true
                : false, // community etc.: the fake has no shared library
      );
    }
    // The toolkit keeps only the first value of a repeated query parameter; comma lists also work.
    const ids = q.voice_ids;
    if (ids) {
      const wanted = new Set(ids.split(','));
      list = list.filter((v) => wanted.has(v.voice_id));
    }
    if (q.sort) {
      const dir = q.sort_direction === 'asc' ? 1 : -1; // default direction UNCONFIRMED
      list.sort(
        (a, b) =>
          (q.sort === 'name' ? a.name.localeCompare(b.name) : (a.created_at_unix ?? 0) - (b.created_at_unix ?? 0)) *
          dir,
      );
    }

    const page = list.slice(offset, offset + pageSize);
    const hasMore = offset + pageSize < list.length;
    return json({
      voices: page,
      has_more: hasMore,
      total_count: list.length, // sent even when include_total_count=false (required field; real value then UNCONFIRMED)
      next_page_token: hasMore ? encodePageToken(offset + pageSize) : null,
    });
  }

  private getUser(key: KeyInfo): FakeResponse {
    const u = this.user;
    // E-OAS UserResponseModel required fields + what the newer E-JS `User` parser requires
    // (workspace_id, seat_type, subscription.max_credit_limit_extension, …_in_workspace, current_overage).
    return json({
      user_id: u.user_id,
      workspace_id: u.workspace_id,
      subscription: {
        tier: u.tier,
        character_count: key.creditsUsed,
        character_limit: key.creditLimit,
        max_character_limit_extension: null,
        max_credit_limit_extension: 0,
        can_extend_character_limit: false,
        allowed_to_extend_character_limit: false,
        next_character_count_reset_unix: u.next_character_count_reset_unix,
        voice_slots_used: this.voices.filter((v) => v.is_owner).length,
        professional_voice_slots_used: 0,
        professional_voice_slots_used_in_workspace: 0,
        voice_limit: u.voice_limit,
        max_voice_add_edits: null,
        voice_add_edit_counter: 0,
        professional_voice_limit: 1,
        can_extend_voice_limit: false,
        can_use_instant_voice_cloning: true,
        can_use_professional_voice_cloning: true,
        currency: 'usd',
        current_overage: { amount: '0', currency: 'usd' },
        status: u.status,
        billing_period: 'monthly_period',
        character_refresh_period: 'monthly_period',
      },
      subscription_extras: null,
      is_new_user: false,
      can_use_delayed_payment_methods: false,
      is_onboarding_completed: true,
      is_onboarding_checklist_completed: true,
      first_name: u.first_name,
      is_api_key_hashed: true,
      xi_api_key_preview: null,
      referral_link_code: null,
      partnerstack_partner_default_link: null,
      created_at: u.created_at,
      seat_type: 'workspace_admin',
    });
  }

  // ---- errors ----------------------------------------------------------------------

  /** `{detail:{status,message}}` (legacy) or with type/code/request_id/param (current). JSON, no charset (as observed). */
  private error(spec: ElevenLabsErrorSpec): FakeResponse {
    const detail =
      this.envelope === 'legacy'
        ? { status: spec.status, message: spec.message }
        : {
            type: spec.type ?? 'api_error',
            code: spec.code ?? spec.status,
            message: spec.message,
            status: spec.status,
            request_id: randomBytes(16).toString('hex'),
            ...(spec.param !== undefined ? { param: spec.param } : {}),
          };
    return {
      status: spec.httpStatus,
      headers: { 'content-type': 'application/json', ...spec.headers },
      body: { detail },
    };
  }
}

export async function startElevenLabsFake(options?: ElevenLabsFakeOptions): Promise<ElevenLabsFake> {
  return ElevenLabsFake.start(options);
}

// ---- helpers ----------------------------------------------------------------------------

const INJECTED = Symbol('elevenlabs-injected-error');

function json(body: unknown, status = 200): FakeResponse {
  return { status, headers: { 'content-type': 'application/json' }, body };
}

/** FastAPI/pydantic-v1 request validation error: `detail` is an array. */
function validationError(errors: ValidationItem[]): FakeResponse {
  return json({ detail: errors }, 422);
}

const TTS_PATH = /^\/v1\/text-to-speech\/([^/]+)$/;

function matchRoute(req: RecordedRequest): Route | FakeResponse {
  const path = req.path;
  const tts = TTS_PATH.exec(path);
  let route: Route | undefined;
  let allowed: string;
  if (tts) {
    route = { kind: 'tts', voiceId: decodeURIComponent(tts[1]!), permission: 'text_to_speech' };
    allowed = 'POST';
  } else if (path === '/v1/sound-generation') {
    route = { kind: 'sfx', permission: 'sound_generation' };
    allowed = 'POST';
  } else if (path === '/v1/voices') {
    route = { kind: 'voices_v1', permission: 'voices_read' };
    allowed = 'GET';
  } else if (path === '/v2/voices') {
    route = { kind: 'voices_v2', permission: 'voices_read' };
    allowed = 'GET';
  } else if (path === '/v1/user') {
    route = { kind: 'user', permission: 'user_read' };
    allowed = 'GET';
  } else {
    return json({ detail: 'Not Found' }, 404); // FastAPI default
  }
  if (req.method !== allowed) return json({ detail: 'Method Not Allowed' }, 405);
  return route;
}

function parseBody(req: RecordedRequest): { value: Record<string, unknown> } | { errors: ValidationItem[] } {
  let value: unknown = req.json;
  if (value === undefined) {
    if (req.rawBody.length === 0)
      return { errors: [{ loc: ['body'], msg: 'field required', type: 'value_error.missing' }] };
    try {
      value = JSON.parse(req.rawBody.toString('utf8'));
    } catch (err) {
      return {
        errors: [
          {
            loc: ['body', 0],
            msg: err instanceof Error ? err.message : 'Expecting value',
            type: 'value_error.jsondecode',
          },
        ],
      };
    }
  }
  if (!isObject(value))
    return { errors: [{ loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' }] };
  return { value };
}

function requireString(body: Record<string, unknown>, field: string, errors: ValidationItem[]): void {
  const v = body[field];
  if (v === undefined || v === null)
    errors.push({ loc: ['body', field], msg: 'field required', type: 'value_error.missing' });
  else if (typeof v !== 'string')
    errors.push({ loc: ['body', field], msg: 'str type expected', type: 'type_error.str' });
}

/** true when the field is present with the right type. */
function optionalType(
  body: Record<string, unknown>,
  field: string,
  type: 'string' | 'number' | 'boolean',
  errors: ValidationItem[],
): boolean {
  const v = body[field];
  if (v === undefined || v === null) return false;
  if (typeof v === type && !(type === 'number' && !Number.isFinite(v))) return true;
  const [msg, t] =
    type === 'string'
      ? ['str type expected', 'type_error.str']
      : type === 'number'
        ? ['value is not a valid float', 'type_error.float']
        : ['value could not be parsed to a boolean', 'type_error.bool'];
  errors.push({ loc: ['body', field], msg, type: t });
  return false;
}

function numberRange(
  body: Record<string, unknown>,
  field: string,
  min: number,
  max: number,
  errors: ValidationItem[],
): void {
  const v = body[field] as number;
  if (v < min)
    errors.push({
      loc: ['body', field],
      msg: `ensure this value is greater than or equal to ${min}`,
      type: 'value_error.number.not_ge',
      ctx: { limit_value: min },
    });
  else if (v > max)
    errors.push({
      loc: ['body', field],
      msg: `ensure this value is less than or equal to ${max}`,
      type: 'value_error.number.not_le',
      ctx: { limit_value: max },
    });
}

function enumError(loc: (string | number)[], values: readonly string[]): ValidationItem {
  return {
    loc,
    msg: `value is not a valid enumeration member; permitted: ${values.map((v) => `'${v}'`).join(', ')}`,
    type: 'type_error.enum',
    ctx: { enum_values: [...values] },
  };
}

function outputFormat(req: RecordedRequest, errors: ValidationItem[]): OutputFormat | undefined {
  const raw = req.query.output_format ?? DEFAULT_OUTPUT_FORMAT;
  if ((OUTPUT_FORMATS as readonly string[]).includes(raw)) return raw as OutputFormat;
  errors.push(enumError(['query', 'output_format'], OUTPUT_FORMATS));
  return undefined;
}

function boolQuery(req: RecordedRequest, name: string, fallback: boolean, errors: ValidationItem[]): boolean {
  const raw = req.query[name];
  if (raw === undefined) return fallback;
  const v = raw.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  errors.push({ loc: ['query', name], msg: 'value could not be parsed to a boolean', type: 'type_error.bool' });
  return fallback;
}

function encodePageToken(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}
function decodePageToken(token: string): number | undefined {
  const m = /^offset:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Ids like the observed `request-id: npQR4Xoyx4KHXQHSEy4s` (20 alphanumerics). */
function randomId(length: number): string {
  return [...randomBytes(length)].map((b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The conformance suite's view of this fake (test/conformance/fake-contract.ts). */
export const startConformanceFake: StartConformanceFake = async () => {
  const fake = await startElevenLabsFake();
  return {
    apiUrl: fake.url,
    credentials: { apiKey: ELEVENLABS_FAKE_KEY },
    rejectedCredentials: { apiKey: 'sk_0000000000000000000000000000000000000000000000dead' },
    failNext(kind) {
      if (kind === 'rate_limited') fake.failNext(1, 'too_many_concurrent_requests');
      else if (kind === 'server_error') fake.failNext(1, 'internal_server_error');
      else
        fake.failNext(1, {
          httpStatus: 401,
          status: 'missing_permissions',
          message: 'The API key you used is missing the permission voices_read to execute this operation.',
        });
    },
    close: () => fake.close(),
  };
};
