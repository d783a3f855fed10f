import type { ActionInputs } from './generated/actions.ts';

/**
 * What each action returns in `output`. The engine declares no output schemas, so these are written
 * by hand from the return values in connectors/<service>/<service>-actions.ts; test/sdk/types checks
 * them against those return types, so an engine change that is not mirrored here fails the build.
 */

// ---- Resend ------------------------------------------------------------------------------------

export interface ResendSendEmailOutput {
  /** Resend's email id. */
  id: string;
}

export interface ResendSendBatchOutput {
  /** One entry per email Resend accepted, in request order. */
  emails: { id: string }[];
  /** With `validation: "permissive"`: the emails Resend refused, by index in the request. */
  errors: { index: number; message: string }[];
}

export interface ResendDomain {
  id: string;
  name: string;
  /** e.g. "verified", "pending", "not_started". */
  status: string;
  region: string;
  /** ISO 8601. */
  createdAt: string;
  capabilities: { sending?: string; receiving?: string };
}

export interface ResendListDomainsOutput {
  domains: ResendDomain[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

// ---- Slack -------------------------------------------------------------------------------------

export interface SlackMessage {
  ts: string;
  type: string;
  subtype: string | null;
  user: string | null;
  botId: string | null;
  text: string;
  threadTs: string | null;
  replyCount: number;
  parentUserId: string | null;
}

export interface SlackPostMessageOutput {
  /** The channel id, also when the input named the channel as "#name". */
  channel: string;
  ts: string;
  message: SlackMessage | null;
}

export interface SlackChannel {
  id: string;
  name: string | null;
  isPrivate: boolean;
  isArchived: boolean;
  isMember: boolean;
  isIm: boolean;
  isMpim: boolean;
  numMembers: number | null;
  topic: string;
  purpose: string;
  /** ISO 8601. */
  createdAt: string | null;
}

export interface SlackListChannelsOutput {
  channels: SlackChannel[];
  nextCursor: string | null;
}

export interface SlackUser {
  id: string;
  teamId: string | null;
  name: string | null;
  realName: string | null;
  displayName: string | null;
  email: string | null;
  isBot: boolean;
  isAdmin: boolean;
  deleted: boolean;
  timeZone: string | null;
  avatarUrl: string | null;
}

export interface SlackListUsersOutput {
  users: SlackUser[];
  nextCursor: string | null;
}

export interface SlackReactToMessageOutput {
  reacted: boolean;
  /** True when the reaction was already there (not an error). */
  alreadyReacted: boolean;
}

export interface SlackGetThreadOutput {
  /** The parent message first, then the replies. */
  messages: SlackMessage[];
  hasMore: boolean;
  nextCursor: string | null;
}

// ---- ElevenLabs --------------------------------------------------------------------------------

/** Audio is never inlined: download `url` with the same API key (`client.invocations.downloadArtifact`). */
export interface AudioArtifact {
  contentType: string;
  sizeBytes: number;
  /** Path on the engine, e.g. `/v1/invocations/inv_…/artifacts/audio`. */
  url: string;
}

export interface ElevenLabsAudioOutput {
  audio: AudioArtifact;
  characterCost: number | null;
  requestId: string | null;
}

export type ElevenLabsTextToSpeechOutput = ElevenLabsAudioOutput;
export type ElevenLabsGenerateSoundEffectOutput = ElevenLabsAudioOutput;

export interface ElevenLabsVoice {
  voiceId: string;
  name: string;
  category: string | null;
  labels: Record<string, string>;
  description: string | null;
  previewUrl: string | null;
}

export interface ElevenLabsListVoicesOutput {
  voices: ElevenLabsVoice[];
  totalCount: number | null;
  nextCursor: string | null;
}

/** Every action's output type, by connector id and action id. */
export interface ActionOutputs {
  resend: {
    sendEmail: ResendSendEmailOutput;
    sendBatch: ResendSendBatchOutput;
    listDomains: ResendListDomainsOutput;
  };
  slack: {
    postMessage: SlackPostMessageOutput;
    listChannels: SlackListChannelsOutput;
    listUsers: SlackListUsersOutput;
    reactToMessage: SlackReactToMessageOutput;
    getThread: SlackGetThreadOutput;
  };
  elevenlabs: {
    textToSpeech: ElevenLabsTextToSpeechOutput;
    listVoices: ElevenLabsListVoicesOutput;
    generateSoundEffect: ElevenLabsGenerateSoundEffectOutput;
  };
}

// Compile-time guard: when the generator adds (or drops) an action, this table must follow.
type ActionKeys<T> = { [C in keyof T]: keyof T[C] };
type Assert<T extends true> = T;
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export type OutputsCoverEveryAction = Assert<SameKeys<ActionKeys<ActionOutputs>, ActionKeys<ActionInputs>>>;
