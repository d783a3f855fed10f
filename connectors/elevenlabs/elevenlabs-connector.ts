import { z } from 'zod';
import { apiKeyAuth } from '../toolkit/auth.ts';
import { defineConnector } from '../toolkit/connector-definition.ts';
import { generateSoundEffect, listVoices, textToSpeech } from './elevenlabs-actions.ts';
import { elevenLabsErrors } from './elevenlabs-errors.ts';

export const elevenLabsConnector = defineConnector({
  id: 'elevenlabs',
  displayName: 'ElevenLabs',
  category: 'audio',
  description: 'Text to speech and sound effects.',
  baseUrl: 'https://api.elevenlabs.io',
  auth: apiKeyAuth({ header: 'xi-api-key' }),
  credentials: z
    .object({ apiKey: z.string().regex(/^[A-Za-z0-9_-]{20,200}$/, 'must be an ElevenLabs API key') })
    .strict(),
  // ElevenLabs limits concurrency, not requests per minute (2 to 15 at once by plan); this is a ceiling.
  rateLimit: { requestsPerMinute: 600 },
  // A key without user_read answers 401 missing_permissions here, which still proves it valid.
  credentialTest: { method: 'GET', path: '/v1/user' },
  errors: elevenLabsErrors,
  actions: [textToSpeech, listVoices, generateSoundEffect],
});
