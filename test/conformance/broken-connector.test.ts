import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { resendConnector } from '../../connectors/resend/resend-connector.ts';
import { slackConnector } from '../../connectors/slack/slack-connector.ts';
import type { ActionDefinition, ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import type { ErrorTable } from '../../connectors/toolkit/error-table.ts';
import { startConformanceFake as startResend } from '../fakes/resend/resend-fake.ts';
import { startConformanceFake as startSlack } from '../fakes/slack/slack-fake.ts';
import { definitionProblems, fakeProblems } from './conformance-checks.ts';
import type { ConformanceFake } from './fake-contract.ts';

/**
 * The conformance suite must fail a connector that is wrong in the ways a new one could be: each
 * case breaks one real connector in one way and expects the problem that names it.
 */
const withAction = (c: ConnectorDefinition, id: string, change: Partial<ActionDefinition>): ConnectorDefinition => ({
  ...c,
  actions: c.actions.map((a) => (a.id === id ? { ...a, ...change } : a)),
});

describe('a deliberately broken connector fails the conformance checks', () => {
  let resend: ConformanceFake;
  let slack: ConformanceFake;
  beforeAll(async () => {
    [resend, slack] = await Promise.all([startResend(), startSlack()]);
  });
  afterAll(async () => {
    await Promise.all([resend.close(), slack.close()]);
  });

  it('the real ones pass (the baseline of every case below)', async () => {
    expect(definitionProblems(resendConnector)).toEqual([]);
    expect(await fakeProblems(resendConnector, resend)).toEqual([]);
    expect(await fakeProblems(slackConnector, slack)).toEqual([]);
  });

  it('an undocumented credential field', () => {
    const broken = { ...resendConnector, credentials: z.object({ apiKey: z.string(), region: z.string() }).strict() };
    expect(definitionProblems(broken)).toContain('credential field region is not documented in auth.fields');
  });

  it('a documented field the credentials do not have, and a required flag that lies', () => {
    const broken = {
      ...resendConnector,
      auth: {
        ...resendConnector.auth,
        fields: [
          { key: 'apiKey', label: 'API key', secret: true, required: false },
          { key: 'team', label: 'Team', secret: false, required: true },
        ],
      },
    } as ConnectorDefinition;
    const problems = definitionProblems(broken);
    expect(problems).toContain('auth field team is not in the credentials schema');
    expect(problems).toContain('auth field apiKey says required=false, the schema says true');
  });

  it('an unmapped 401: neither the table nor its status map says what it means', async () => {
    const { 401: _dropped, ...byStatus } = resendConnector.errors.byStatus;
    const { invalid_api_key: _a, missing_api_key: _b, ...byCode } = resendConnector.errors.byCode;
    const errors = { ...resendConnector.errors, byCode, byStatus } as ErrorTable;
    const broken = { ...resendConnector, errors };
    expect(definitionProblems(broken)).toContain('errors.byStatus does not say what a bare 401 means');
    // Resend rejects a dead key with 403 invalid_api_key: without its code that is a caller's error, not a dead key.
    const problems = await fakeProblems(broken, resend);
    expect(
      problems.some((p) => p.startsWith("the service's answer to dead credentials is classified invalid_request")),
    ).toBe(true);
    expect(problems.some((p) => p.startsWith('the credential test does not reject dead credentials'))).toBe(true);
  });

  it("an HTTP-200 error the connector does not read (Slack's ok:false without checkResponse)", async () => {
    const broken = { ...slackConnector, checkResponse: undefined };
    const problems = await fakeProblems(broken, slack);
    // The handler reads a page that is not there: an error inside the engine, not the service's answer.
    expect(problems).toContain(
      "the service's answer to dead credentials is classified a handler error, not auth_invalid",
    );
    expect(problems).toContain(
      "the service's answer to a missing permission is classified a handler error, not permission",
    );
    expect(problems).toContain('the credential test does not reject dead credentials ({"valid":true})');
  });

  it('an output that does not match its schema', async () => {
    const broken = withAction(resendConnector, 'listDomains', {
      output: z.object({ domains: z.array(z.object({ id: z.number() })), nextCursor: z.string().nullable() }),
    });
    const problems = await fakeProblems(broken, resend);
    expect(
      problems.some((p) =>
        p.startsWith("listDomains: example 0's output does not fit the output schema: domains.0.id"),
      ),
    ).toBe(true);
  });

  it('an output with a field its schema does not declare', async () => {
    const broken = withAction(resendConnector, 'sendEmail', { output: z.object({}) });
    expect(await fakeProblems(broken, resend)).toContain(
      "sendEmail: example 0's output has fields the output schema does not declare",
    );
  });

  it('an action without examples, description or output schema', () => {
    const broken = withAction(resendConnector, 'listDomains', {
      examples: [],
      description: '',
      output: undefined as unknown as z.ZodType,
    });
    const problems = definitionProblems(broken);
    expect(problems).toEqual(
      expect.arrayContaining([
        'listDomains: description is empty',
        'listDomains: no examples',
        'listDomains: no output schema',
      ]),
    );
  });

  it('an example that does not fit its own input schema', () => {
    const broken = withAction(resendConnector, 'listDomains', {
      examples: [{ summary: 'too many', input: { limit: 1000 } }],
    });
    expect(
      definitionProblems(broken).some((p) =>
        p.startsWith('listDomains: example 0 does not fit the input schema: limit'),
      ),
    ).toBe(true);
  });

  it('a credential test that writes', () => {
    const broken = {
      ...resendConnector,
      credentialTest: { method: 'POST' as const, path: '/emails', json: { to: 'x' } },
    };
    expect(definitionProblems(broken)).toContain(
      'credentialTest must be a read without a body (GET, or a body-less POST method call)',
    );
  });

  it('an OAuth action that does not say which scopes it needs', () => {
    const broken = withAction(slackConnector, 'listUsers', { scopes: undefined });
    expect(definitionProblems(broken)).toContain(
      'listUsers: an action of an OAuth connector must list the scopes it needs',
    );
  });
});
