import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectors } from '../../connectors/registry.ts';
import { definitionProblems, fakeProblems } from './conformance-checks.ts';
import { type ConformanceFake, loadConformanceFake } from './fake-contract.ts';

/**
 * The connector conformance suite: every registered connector, checked the same way (as kysely's
 * tests loop over its dialects). A new connector gets these tests by being registered; its fake
 * must follow test/conformance/fake-contract.ts. engine-conformance.test.ts runs the same examples
 * through the whole engine.
 */
describe.each(connectors.map((c) => [c.id, c] as const))('connector %s conforms', (_id, connector) => {
  let fake: ConformanceFake | undefined;

  beforeAll(async () => {
    const start = await loadConformanceFake(connector.id);
    fake = start ? await start() : undefined;
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('its definition is complete: fields documented, actions described with examples, errors mapped', () => {
    expect(definitionProblems(connector)).toEqual([]);
  });

  it(`has a fake at test/fakes/${connector.id}/${connector.id}-fake.ts exporting startConformanceFake`, () => {
    expect(fake).toBeDefined();
  });

  it("passes its credential test, runs every example on its fake with output fitting its schema, and classifies the service's errors", async () => {
    expect(fake).toBeDefined();
    expect(await fakeProblems(connector, fake!)).toEqual([]);
  });
});
