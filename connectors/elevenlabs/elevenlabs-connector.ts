import { z } from 'zod';
import { defineConnector } from '../toolkit/connector-definition.ts';
import { generateSoundEffect, listVoices, textToSpeech } from './elevenlabs-actions.ts';
import { classifyElevenLabsError } from './elevenlabs-error-classifier.ts';

export const elevenLabsConnector = defineConnector({
  id: 'elevenlabs',
  displayName: 'ElevenLabs',
  category: 'audio',
  description: 'Text to speech and sound effects.',
  authType: 'api_key',
  authFields: [{ key: 'apiKey', label: 'API key', secret: true, required: true }],
  credentials: z.object({ apiKey: z.string().regex(/^[A-Za-z0-9_-]{20,200}$/, 'must be an ElevenLabs API key') }).strict(),
  // ElevenLabs limits concurrency, not requests per minute (2 to 15 at once by plan); this is a ceiling.
  rateLimit: { requestsPerMinute: 600 },
  baseUrlConfigKey: 'ELEVENLABS_API_URL',
  authHeaders: (c) => ({ 'xi-api-key': c.apiKey }),
  // A key without user_read answers 401 missing_permissions here, which still proves it valid.
  credentialTest: { method: 'GET', path: '/v1/user' },
  classifyHttpError: classifyElevenLabsError,
  actions: [textToSpeech, listVoices, generateSoundEffect],
});
