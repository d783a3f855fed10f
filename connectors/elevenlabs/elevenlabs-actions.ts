import { z } from 'zod';
import { type ActionContext, defineAction } from '../toolkit/connector-definition.ts';

/**
 * ElevenLabs actions. Audio is never inlined: it is stored as an artifact of the invocation and the
 * output carries its URL (docs/design.md, decision 8). Generation costs credits and ElevenLabs has no idempotency
 * key, so both generators are writes: never repeated once they may have run.
 */
const outputFormat = z
  .enum([
    'mp3_22050_32',
    'mp3_44100_32',
    'mp3_44100_64',
    'mp3_44100_96',
    'mp3_44100_128',
    'mp3_44100_192',
    'pcm_8000',
    'pcm_16000',
    'pcm_22050',
    'pcm_24000',
    'pcm_44100',
    'pcm_48000',
    'ulaw_8000',
    'alaw_8000',
    'opus_48000_32',
    'opus_48000_64',
    'opus_48000_96',
    'opus_48000_128',
    'opus_48000_192',
  ])
  .optional()
  .describe('codec_samplerate_bitrate; default mp3_44100_128');

const unit = z.number().min(0).max(1);

const generatedAudio = z.object({
  audio: z
    .object({
      contentType: z.string(),
      sizeBytes: z.number().int(),
      url: z.string().describe('Download with the same API key'),
    })
    .describe('The audio, stored as an artifact of the invocation'),
  characterCost: z.number().nullable().describe("ElevenLabs' character-cost header"),
  requestId: z.string().nullable(),
});

async function generateAudio(
  ctx: ActionContext,
  path: string,
  query: Record<string, string | undefined>,
  json: Record<string, unknown>,
): Promise<z.infer<typeof generatedAudio>> {
  const res = await ctx.http.request<Buffer>({
    method: 'POST',
    path,
    query,
    json,
    binary: true,
    headers: { accept: 'audio/*' },
  });
  const contentType = String(res.headers['content-type'] ?? 'audio/mpeg')
    .split(';')[0]!
    .trim();
  const audio = await ctx.saveArtifact('audio', contentType, res.body);
  const cost = Number(res.headers['character-cost']);
  return {
    audio,
    characterCost: Number.isFinite(cost) ? cost : null,
    requestId: (res.headers['request-id'] as string | undefined) ?? null,
  };
}

export const textToSpeech = defineAction({
  id: 'textToSpeech',
  displayName: 'Text to speech',
  description: 'Turn text into speech with a voice; the audio is returned as a downloadable artifact.',
  sideEffects: 'write',
  output: generatedAudio,
  examples: [
    {
      summary: 'A sentence in the voice Rachel',
      input: { voiceId: '21m00Tcm4TlvDq8ikWAM', text: 'Your order has shipped.' },
    },
  ],
  input: z
    .object({
      voiceId: z.string().regex(/^[A-Za-z0-9]{1,64}$/, 'an ElevenLabs voice id, e.g. "21m00Tcm4TlvDq8ikWAM"'),
      text: z.string().min(1).max(40_000),
      modelId: z.string().max(100).optional().describe('Default eleven_multilingual_v2'),
      outputFormat,
      languageCode: z.string().length(2).optional(),
      voiceSettings: z
        .object({
          stability: unit.optional(),
          similarityBoost: unit.optional(),
          style: unit.optional(),
          useSpeakerBoost: z.boolean().optional(),
          speed: z.number().min(0.5).max(2).optional(),
        })
        .strict()
        .optional(),
      seed: z.number().int().min(0).max(4_294_967_295).optional(),
      previousText: z.string().max(10_000).optional(),
      nextText: z.string().max(10_000).optional(),
      applyTextNormalization: z.enum(['auto', 'on', 'off']).optional(),
    })
    .strict(),
  async run(ctx, input) {
    const vs = input.voiceSettings;
    return generateAudio(
      ctx,
      `/v1/text-to-speech/${encodeURIComponent(input.voiceId)}`,
      { output_format: input.outputFormat },
      {
        text: input.text,
        model_id: input.modelId,
        language_code: input.languageCode,
        voice_settings: vs && {
          stability: vs.stability,
          similarity_boost: vs.similarityBoost,
          style: vs.style,
          use_speaker_boost: vs.useSpeakerBoost,
          speed: vs.speed,
        },
        seed: input.seed,
        previous_text: input.previousText,
        next_text: input.nextText,
        apply_text_normalization: input.applyTextNormalization,
      },
    );
  },
});

export const generateSoundEffect = defineAction({
  id: 'generateSoundEffect',
  displayName: 'Generate a sound effect',
  description: 'Generate a sound effect from a text prompt; the audio is returned as a downloadable artifact.',
  sideEffects: 'write',
  output: generatedAudio,
  examples: [{ summary: 'Two seconds of applause', input: { text: 'A small crowd applauding', durationSeconds: 2 } }],
  input: z
    .object({
      text: z.string().min(1).max(5_000),
      durationSeconds: z.number().min(0.5).max(30).optional().describe('Inferred from the prompt when omitted'),
      promptInfluence: unit.optional().describe('Default 0.3'),
      loop: z.boolean().optional(),
      modelId: z.string().max(100).optional(),
      outputFormat,
    })
    .strict(),
  async run(ctx, input) {
    return generateAudio(
      ctx,
      '/v1/sound-generation',
      { output_format: input.outputFormat },
      {
        text: input.text,
        duration_seconds: input.durationSeconds,
        prompt_influence: input.promptInfluence,
        loop: input.loop,
        model_id: input.modelId,
      },
    );
  },
});

interface Voice {
  voice_id: string;
  name: string;
  category?: string;
  labels?: Record<string, string>;
  description?: string | null;
  preview_url?: string | null;
}

export const listVoices = defineAction({
  id: 'listVoices',
  displayName: 'List voices',
  description: 'List the voices available to the account (GET /v2/voices), a page at a time.',
  sideEffects: 'read',
  output: z.object({
    voices: z.array(
      z.object({
        voiceId: z.string(),
        name: z.string(),
        category: z.string().nullable(),
        labels: z.record(z.string(), z.string()),
        description: z.string().nullable(),
        previewUrl: z.string().nullable(),
      }),
    ),
    totalCount: z.number().int().nullable(),
    nextCursor: z.string().nullable().describe('Pass as cursor for the next page; null on the last page'),
  }),
  examples: [{ summary: 'Premade voices', input: { category: 'premade', limit: 20 } }],
  input: z
    .object({
      search: z.string().max(200).optional(),
      category: z.enum(['premade', 'cloned', 'generated', 'professional']).optional(),
      limit: z.number().int().min(1).max(100).optional().describe('Default 10'),
      cursor: z.string().min(1).max(500).optional().describe('nextCursor of the previous page'),
    })
    .strict(),
  async run(ctx, input) {
    const res = await ctx.http.request<{
      voices: Voice[];
      has_more: boolean;
      total_count?: number;
      next_page_token?: string | null;
    }>({
      method: 'GET',
      path: '/v2/voices',
      query: { search: input.search, category: input.category, page_size: input.limit, next_page_token: input.cursor },
    });
    return {
      voices: res.body.voices.map((v) => ({
        voiceId: v.voice_id,
        name: v.name,
        category: v.category ?? null,
        labels: v.labels ?? {},
        description: v.description ?? null,
        previewUrl: v.preview_url ?? null,
      })),
      totalCount: res.body.total_count ?? null,
      nextCursor: res.body.has_more ? (res.body.next_page_token ?? null) : null,
    };
  },
});
