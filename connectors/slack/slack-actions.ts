import { z } from 'zod';
import { type ActionContext, defineAction } from '../toolkit/connector-definition.ts';

/**
 * Slack Web API actions. Writes go as JSON (token in the header); reads as GET query strings, since
 * Slack accepts JSON only on write methods (docs/upstreams/slack.md). Outputs are a camelCase
 * projection of Slack's objects, with `nextCursor: null` on the last page.
 */
const channelId = z.string().min(1).max(100).describe('Conversation id (C…, G…, D…) or, for postMessage, a #name');
const messageTs = z.string().regex(/^\d+\.\d+$/, 'a Slack message timestamp such as "1503435956.000247"');
const cursor = z.string().min(1).max(500).optional().describe('nextCursor of the previous page');

interface SlackPage {
  response_metadata?: { next_cursor?: string };
}
const nextCursorOf = (page: SlackPage): string | null => page.response_metadata?.next_cursor || null;

async function slackGet<T>(
  ctx: ActionContext,
  method: string,
  query: Record<string, string | number | boolean | undefined>,
): Promise<T> {
  return (await ctx.http.request<T>({ method: 'GET', path: `/${method}`, query })).body;
}

async function slackPostJson<T>(ctx: ActionContext, method: string, json: Record<string, unknown>): Promise<T> {
  return (
    await ctx.http.request<T>({
      method: 'POST',
      path: `/${method}`,
      json,
      headers: { 'content-type': 'application/json; charset=utf-8' },
    })
  ).body;
}

interface SlackMessage {
  type?: string;
  subtype?: string;
  ts: string;
  user?: string;
  bot_id?: string;
  text?: string;
  thread_ts?: string;
  reply_count?: number;
  parent_user_id?: string;
}
const message = z.object({
  ts: z.string(),
  type: z.string(),
  subtype: z.string().nullable(),
  user: z.string().nullable(),
  botId: z.string().nullable(),
  text: z.string(),
  threadTs: z.string().nullable(),
  replyCount: z.number().int(),
  parentUserId: z.string().nullable(),
});
const nextCursor = z.string().nullable().describe('Pass as cursor for the next page; null on the last page');

const presentMessage = (m: SlackMessage): z.infer<typeof message> => ({
  ts: m.ts,
  type: m.type ?? 'message',
  subtype: m.subtype ?? null,
  user: m.user ?? null,
  botId: m.bot_id ?? null,
  text: m.text ?? '',
  threadTs: m.thread_ts ?? null,
  replyCount: m.reply_count ?? 0,
  parentUserId: m.parent_user_id ?? null,
});

export const postMessage = defineAction({
  id: 'postMessage',
  displayName: 'Post a message',
  description: 'Post a message to a channel, DM or thread (chat.postMessage).',
  sideEffects: 'write',
  scopes: ['chat:write'],
  output: z.object({
    channel: z.string().describe('The channel id, also when the input named the channel as "#name"'),
    ts: z.string(),
    message: message.nullable(),
  }),
  examples: [{ summary: 'A message to #general', input: { channel: '#general', text: 'Deploy finished :rocket:' } }],
  input: z
    .object({
      channel: channelId,
      text: z.string().min(1).max(40_000).optional(),
      markdownText: z.string().min(1).max(12_000).optional(),
      blocks: z.array(z.record(z.string(), z.unknown())).max(50).optional(),
      attachments: z.array(z.record(z.string(), z.unknown())).max(100).optional(),
      threadTs: messageTs.optional().describe('Reply in the thread of this message'),
      replyBroadcast: z.boolean().optional(),
      unfurlLinks: z.boolean().optional(),
      unfurlMedia: z.boolean().optional(),
      mrkdwn: z.boolean().optional(),
      username: z.string().max(80).optional(),
      iconEmoji: z.string().max(100).optional(),
      iconUrl: z.url().optional(),
      metadata: z.object({ event_type: z.string(), event_payload: z.record(z.string(), z.unknown()) }).optional(),
    })
    .strict()
    .superRefine((m, ctx) => {
      if (!m.text && !m.markdownText && !m.blocks && !m.attachments) {
        ctx.addIssue({
          code: 'custom',
          path: ['text'],
          message: 'one of text, markdownText, blocks or attachments is required',
        });
      }
      if (m.markdownText && (m.text || m.blocks)) {
        ctx.addIssue({
          code: 'custom',
          path: ['markdownText'],
          message: 'markdownText cannot be combined with text or blocks',
        });
      }
    }),
  async run(ctx, input) {
    const res = await slackPostJson<{ channel: string; ts: string; message?: SlackMessage }>(ctx, 'chat.postMessage', {
      channel: input.channel,
      text: input.text,
      markdown_text: input.markdownText,
      blocks: input.blocks,
      attachments: input.attachments,
      thread_ts: input.threadTs,
      reply_broadcast: input.replyBroadcast,
      unfurl_links: input.unfurlLinks,
      unfurl_media: input.unfurlMedia,
      mrkdwn: input.mrkdwn,
      username: input.username,
      icon_emoji: input.iconEmoji,
      icon_url: input.iconUrl,
      metadata: input.metadata,
    });
    return { channel: res.channel, ts: res.ts, message: res.message ? presentMessage(res.message) : null };
  },
});

interface SlackChannel {
  id: string;
  name?: string;
  is_private?: boolean;
  is_archived?: boolean;
  is_member?: boolean;
  is_im?: boolean;
  is_mpim?: boolean;
  num_members?: number;
  created?: number;
  topic?: { value?: string };
  purpose?: { value?: string };
}

export const listChannels = defineAction({
  id: 'listChannels',
  displayName: 'List channels',
  description: 'List conversations the token can see (conversations.list), a page at a time.',
  sideEffects: 'read',
  scopes: ['channels:read', 'groups:read'],
  output: z.object({
    channels: z.array(
      z.object({
        id: z.string(),
        name: z.string().nullable(),
        isPrivate: z.boolean(),
        isArchived: z.boolean(),
        isMember: z.boolean(),
        isIm: z.boolean(),
        isMpim: z.boolean(),
        numMembers: z.number().int().nullable(),
        topic: z.string(),
        purpose: z.string(),
        createdAt: z.string().nullable().describe('ISO 8601'),
      }),
    ),
    nextCursor,
  }),
  examples: [{ summary: 'Public channels, 50 at a time', input: { limit: 50, excludeArchived: true } }],
  input: z
    .object({
      types: z
        .array(z.enum(['public_channel', 'private_channel', 'mpim', 'im']))
        .min(1)
        .optional()
        .describe('Default: public_channel'),
      excludeArchived: z.boolean().optional(),
      limit: z.number().int().min(1).max(999).optional().describe('Default 100'),
      cursor,
      teamId: z.string().optional(),
    })
    .strict(),
  async run(ctx, input) {
    const page = await slackGet<{ channels: SlackChannel[] } & SlackPage>(ctx, 'conversations.list', {
      types: input.types?.join(','),
      exclude_archived: input.excludeArchived,
      limit: input.limit ?? 100,
      cursor: input.cursor,
      team_id: input.teamId,
    });
    return {
      channels: page.channels.map((c) => ({
        id: c.id,
        name: c.name ?? null,
        isPrivate: c.is_private ?? false,
        isArchived: c.is_archived ?? false,
        isMember: c.is_member ?? false,
        isIm: c.is_im ?? false,
        isMpim: c.is_mpim ?? false,
        numMembers: c.num_members ?? null,
        topic: c.topic?.value ?? '',
        purpose: c.purpose?.value ?? '',
        createdAt: c.created ? new Date(c.created * 1000).toISOString() : null,
      })),
      nextCursor: nextCursorOf(page),
    };
  },
});

interface SlackUser {
  id: string;
  team_id?: string;
  name?: string;
  real_name?: string;
  deleted?: boolean;
  is_bot?: boolean;
  is_admin?: boolean;
  tz?: string;
  profile?: { real_name?: string; display_name?: string; email?: string; image_72?: string };
}

export const listUsers = defineAction({
  id: 'listUsers',
  displayName: 'List users',
  description: 'List the workspace members (users.list), a page at a time.',
  sideEffects: 'read',
  scopes: ['users:read'],
  output: z.object({
    users: z.array(
      z.object({
        id: z.string(),
        teamId: z.string().nullable(),
        name: z.string().nullable(),
        realName: z.string().nullable(),
        displayName: z.string().nullable(),
        email: z.string().nullable().describe('Only with the users:read.email scope'),
        isBot: z.boolean(),
        isAdmin: z.boolean(),
        deleted: z.boolean(),
        timeZone: z.string().nullable(),
        avatarUrl: z.string().nullable(),
      }),
    ),
    nextCursor,
  }),
  examples: [{ summary: 'The first 100 members', input: { limit: 100 } }],
  input: z
    .object({
      limit: z.number().int().min(1).max(1000).optional().describe('Default 200'),
      cursor,
      includeLocale: z.boolean().optional(),
      teamId: z.string().optional(),
    })
    .strict(),
  async run(ctx, input) {
    // Without a limit Slack tries to return everyone and may fail (limit_required), so always send one.
    const page = await slackGet<{ members: SlackUser[] } & SlackPage>(ctx, 'users.list', {
      limit: input.limit ?? 200,
      cursor: input.cursor,
      include_locale: input.includeLocale,
      team_id: input.teamId,
    });
    return {
      users: page.members.map((u) => ({
        id: u.id,
        teamId: u.team_id ?? null,
        name: u.name ?? null,
        realName: u.profile?.real_name ?? u.real_name ?? null,
        displayName: u.profile?.display_name ?? null,
        email: u.profile?.email ?? null,
        isBot: u.is_bot ?? false,
        isAdmin: u.is_admin ?? false,
        deleted: u.deleted ?? false,
        timeZone: u.tz ?? null,
        avatarUrl: u.profile?.image_72 ?? null,
      })),
      nextCursor: nextCursorOf(page),
    };
  },
});

export const reactToMessage = defineAction({
  id: 'reactToMessage',
  displayName: 'React to a message',
  description: 'Add an emoji reaction to a message (reactions.add). Reacting twice is not an error.',
  sideEffects: 'write',
  scopes: ['reactions:write'],
  output: z.object({ reacted: z.boolean(), alreadyReacted: z.boolean().describe('The reaction was there already') }),
  examples: [
    {
      summary: 'A thumbs-up on a message',
      input: { channel: 'C0FAKERND01', timestamp: '1700000200.000500', name: 'thumbsup' },
    },
  ],
  // Adding the same reaction twice is harmless (already_reacted), so a retry cannot do damage.
  upstreamDedupes: true,
  input: z
    .object({
      channel: z.string().min(1).max(100),
      timestamp: messageTs,
      name: z.string().regex(/^[a-z0-9_+'-]{1,100}$/, 'an emoji name without colons, e.g. "thumbsup"'),
    })
    .strict(),
  async run(ctx, input) {
    try {
      await slackPostJson(ctx, 'reactions.add', {
        channel: input.channel,
        timestamp: input.timestamp,
        name: input.name,
      });
      return { reacted: true, alreadyReacted: false };
    } catch (err) {
      if ((err as { body?: { error?: string } }).body?.error === 'already_reacted')
        return { reacted: true, alreadyReacted: true };
      throw err;
    }
  },
});

export const getThread = defineAction({
  id: 'getThread',
  displayName: 'Get a thread',
  description: 'The parent message and replies of a thread (conversations.replies), a page at a time.',
  sideEffects: 'read',
  scopes: ['channels:history', 'groups:history'],
  output: z.object({ messages: z.array(message), hasMore: z.boolean(), nextCursor }),
  examples: [{ summary: 'A thread and its replies', input: { channel: 'C0FAKEGEN01', ts: '1700000000.000100' } }],
  input: z
    .object({
      channel: z.string().min(1).max(100),
      ts: messageTs.describe('The parent message, or any message in the thread'),
      limit: z.number().int().min(1).max(1000).optional().describe('Default 100'),
      cursor,
      oldest: messageTs.optional(),
      latest: messageTs.optional(),
      inclusive: z.boolean().optional(),
    })
    .strict(),
  async run(ctx, input) {
    const page = await slackGet<{ messages: SlackMessage[]; has_more?: boolean } & SlackPage>(
      ctx,
      'conversations.replies',
      {
        channel: input.channel,
        ts: input.ts,
        limit: input.limit ?? 100,
        cursor: input.cursor,
        oldest: input.oldest,
        latest: input.latest,
        inclusive: input.inclusive,
      },
    );
    return {
      messages: page.messages.map(presentMessage),
      hasMore: page.has_more ?? false,
      nextCursor: nextCursorOf(page),
    };
  },
});
