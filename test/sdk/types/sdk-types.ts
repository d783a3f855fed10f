// biome-ignore-all format: each `@ts-expect-error` must stay on the line before the expression it expects to fail.
/**
 * Compile-time tests of the SDK's types, checked by test/sdk/types.test.ts with
 * `tsc --noEmit -p test/sdk/types`. Each `@ts-expect-error` must meet an error (else tsc fails), and
 * the text after it must appear in that error's message (the test checks that too).
 * Nothing here runs: the functions are only type-checked.
 */

import type * as elevenlabs from '../../../connectors/elevenlabs/elevenlabs-actions.ts';
import type * as resend from '../../../connectors/resend/resend-actions.ts';
import type * as slack from '../../../connectors/slack/slack-actions.ts';
import type { ActionDefinition } from '../../../connectors/toolkit/connector-definition.ts';
import { type ActionInputs, type ActionOutputs, Client, type Invocation } from '../../../sdk/src/index.ts';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

export async function readmeExample() {
  const client = new Client({ apiKey: process.env.CONNECTORS_API_KEY });
  const result = await client.connectors.execute({
    connectorId: 'slack', actionId: 'postMessage',
    input: { channel: '#general', text: 'New order' },
  });
  const ts: string = result.output.ts;
  const message: ActionOutputs['slack']['postMessage']['message'] = result.output.message;
  const meta: [number, string] = [result.durationMs, result.invocationId];
  return [ts, message, meta];
}

export async function inputsAreChecked(client: Client) {
  // @ts-expect-error '"postMesage"' is not assignable
  await client.connectors.execute({ connectorId: 'slack', actionId: 'postMesage', input: { channel: 'C1', text: 'x' } });
  // @ts-expect-error '"sendEmail"' is not assignable
  await client.connectors.execute({ connectorId: 'slack', actionId: 'sendEmail', input: { channel: 'C1', text: 'x' } });
  // @ts-expect-error '"slak"' is not assignable
  await client.connectors.execute({ connectorId: 'slak', actionId: 'postMessage', input: { channel: 'C1', text: 'x' } });
  // @ts-expect-error 'txet' does not exist in type 'SlackPostMessageInput'
  await client.connectors.execute({ connectorId: 'slack', actionId: 'postMessage', input: { channel: 'C1', txet: 'x' } });
  // @ts-expect-error Type 'number' is not assignable to type 'string'
  await client.connectors.execute({ connectorId: 'slack', actionId: 'postMessage', input: { channel: 'C1', text: 42 } });
  // @ts-expect-error Property 'channel' is missing
  await client.connectors.execute({ connectorId: 'slack', actionId: 'postMessage', input: { text: 'x' } });
  // @ts-expect-error '"loud"' is not assignable
  await client.connectors.execute({ connectorId: 'resend', actionId: 'sendBatch', input: { emails: [], validation: 'loud' } });
  // @ts-expect-error '"pcm_1"' is not assignable
  await client.connectors.executeAsync({ connectorId: 'elevenlabs', actionId: 'textToSpeech', input: { voiceId: 'v', text: 'x', outputFormat: 'pcm_1' } });
  // @ts-expect-error Type 'string' is not assignable to type 'number'
  await client.connectors.execute({ connectorId: 'slack', actionId: 'listUsers', input: { limit: '10' } });
  // @ts-expect-error 'apiKey' does not exist in type 'SlackCredentials'
  await client.connections.create({ connectorId: 'slack', displayName: 'x', credentials: { apiKey: 'x' } });

  // Correct usages: options, unions, records, nested objects.
  await client.connectors.execute({
    connectorId: 'resend',
    actionId: 'sendEmail',
    input: { from: 'a@example.com', to: ['b@example.com'], subject: 'Hi', html: '<p>Hi</p>', headers: { 'X-Tag': '1' }, tags: [{ name: 'k', value: 'v' }] },
    idempotencyKey: 'order-1',
    timeoutMs: 5_000,
    connectionId: 'conn_1',
    projectId: 'prj_1',
  });
  await client.connectors.execute({ connectorId: 'slack', actionId: 'postMessage', input: { channel: 'C1', blocks: [{ type: 'divider' }], metadata: { event_type: 'e', event_payload: {} } } });
  await client.connections.create({ connectorId: 'resend', displayName: 'Resend', credentials: { apiKey: 're_x' }, projectIds: ['prj_1'] });
}

export async function outputsAreTyped(client: Client) {
  const users = await client.connectors.execute({ connectorId: 'slack', actionId: 'listUsers', input: {} });
  const email: string | null = users.output.users[0]!.email;
  // @ts-expect-error Property 'members' does not exist
  users.output.members;
  const speech = await client.connectors.execute({ connectorId: 'elevenlabs', actionId: 'textToSpeech', input: { voiceId: 'v', text: 'Hi' } });
  const url: string = speech.output.audio.url;
  // @ts-expect-error Type 'string | null' is not assignable to type 'string'
  const cursor: string = (await client.connectors.execute({ connectorId: 'resend', actionId: 'listDomains', input: {} })).output.nextCursor;
  return [email, url, cursor];
}

export async function invocationsNarrow(client: Client) {
  const { invocationId } = await client.connectors.executeAsync({ connectorId: 'slack', actionId: 'postMessage', input: { channel: 'C1', text: 'x' } });
  const invocation: Invocation = await client.invocations.wait(invocationId, { timeoutMs: 10_000 });
  // @ts-expect-error Property 'ts' does not exist
  invocation.output?.ts;
  if (invocation.connectorId === 'slack' && invocation.actionId === 'postMessage') {
    const ts: string | undefined = invocation.output?.ts;
    return ts;
  }
  for await (const inv of client.invocations.list({ status: 'failed', since: new Date() })) {
    const code: string | null = inv.errorCode;
    return code;
  }
  return (await client.invocations.list({ limit: 10 })).nextCursor;
}

// ---- drift: the SDK's types are exactly the engine's ---------------------------------------------

/** What the engine's handler returns (outputs) and what its schema parses to (inputs). */
type Out<T> = T extends ActionDefinition<any, infer O> ? O : never;
type In<T> = T extends ActionDefinition<infer I, any> ? I : never;

export type OutputsMatchTheEngine = [
  Expect<Equal<ActionOutputs['resend']['sendEmail'], Out<typeof resend.sendEmail>>>,
  Expect<Equal<ActionOutputs['resend']['sendBatch'], Out<typeof resend.sendBatch>>>,
  Expect<Equal<ActionOutputs['resend']['listDomains'], Out<typeof resend.listDomains>>>,
  Expect<Equal<ActionOutputs['slack']['postMessage'], Out<typeof slack.postMessage>>>,
  Expect<Equal<ActionOutputs['slack']['listChannels'], Out<typeof slack.listChannels>>>,
  Expect<Equal<ActionOutputs['slack']['listUsers'], Out<typeof slack.listUsers>>>,
  Expect<Equal<ActionOutputs['slack']['reactToMessage'], Out<typeof slack.reactToMessage>>>,
  Expect<Equal<ActionOutputs['slack']['getThread'], Out<typeof slack.getThread>>>,
  Expect<Equal<ActionOutputs['elevenlabs']['textToSpeech'], Out<typeof elevenlabs.textToSpeech>>>,
  Expect<Equal<ActionOutputs['elevenlabs']['listVoices'], Out<typeof elevenlabs.listVoices>>>,
  Expect<Equal<ActionOutputs['elevenlabs']['generateSoundEffect'], Out<typeof elevenlabs.generateSoundEffect>>>,
];

/**
 * The generated inputs against the parsed types: equal, except that a field with a default is
 * optional on input and always present once parsed (sendBatch.validation).
 */
type Batch = ActionInputs['resend']['sendBatch'];
type ParsedBatch = In<typeof resend.sendBatch>;
export type InputsMatchTheEngine = [
  Expect<Equal<ActionInputs['resend']['sendEmail'], In<typeof resend.sendEmail>>>,
  Expect<Equal<keyof Batch, keyof ParsedBatch>>,
  Expect<Equal<Batch['emails'], ParsedBatch['emails']>>,
  Expect<Equal<NonNullable<Batch['validation']>, ParsedBatch['validation']>>,
  Expect<Equal<ActionInputs['resend']['listDomains'], In<typeof resend.listDomains>>>,
  Expect<Equal<ActionInputs['slack']['postMessage'], In<typeof slack.postMessage>>>,
  Expect<Equal<ActionInputs['slack']['listChannels'], In<typeof slack.listChannels>>>,
  Expect<Equal<ActionInputs['slack']['listUsers'], In<typeof slack.listUsers>>>,
  Expect<Equal<ActionInputs['slack']['reactToMessage'], In<typeof slack.reactToMessage>>>,
  Expect<Equal<ActionInputs['slack']['getThread'], In<typeof slack.getThread>>>,
  Expect<Equal<ActionInputs['elevenlabs']['textToSpeech'], In<typeof elevenlabs.textToSpeech>>>,
  Expect<Equal<ActionInputs['elevenlabs']['listVoices'], In<typeof elevenlabs.listVoices>>>,
  Expect<Equal<ActionInputs['elevenlabs']['generateSoundEffect'], In<typeof elevenlabs.generateSoundEffect>>>,
];
