import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { onFirstUse } from '../../api/on-first-use.ts';
import { distFile } from '../../scripts/build.mjs';

/**
 * Issue 21 (api memory): packages that only one rarely used route needs are loaded on its first
 * request, not at start-up. A static import anywhere in the api's module graph would load them in
 * every api process again, and nothing else would notice.
 */
describe('what the api loads at start-up', () => {
  it('the built api imports the MCP SDK and yaml only on first use, never statically', () => {
    // dist/ is built by test/support/global-setup.ts.
    const bundle = fs.readFileSync(distFile('api/main.ts'), 'utf8');
    // The MCP SDK and what it pulls in: 12–15 MB of the api's RSS after start-up.
    for (const pkg of ['@modelcontextprotocol/server', '@modelcontextprotocol/node']) {
      expect(bundle, `the api imports ${pkg} statically`).not.toMatch(
        new RegExp(`^import[^;]*from\\s*["']${pkg}["']`, 'm'),
      );
      expect(bundle).toContain(`import("${pkg}")`);
    }
    // yaml: only POST /v1/connectors/import reads YAML (connectors/custom/openapi-import.ts).
    expect(bundle, 'the api imports yaml statically').not.toMatch(/^import[^;]*from\s*["']yaml["']/m);
    expect(bundle).toContain(`(import.meta.url)("yaml")`);
  });

  it('onFirstUse loads once for every caller, and forgets a failed load so the next caller retries', async () => {
    let loads = 0;
    let fail = true;
    const get = onFirstUse(async () => {
      loads++;
      if (fail) throw new Error('not yet');
      return { loaded: loads };
    });
    await expect(get()).rejects.toThrow('not yet');
    fail = false;
    const [a, b] = await Promise.all([get(), get()]);
    expect(a).toEqual({ loaded: 2 });
    expect(b).toBe(a);
    expect(await get()).toBe(a);
    expect(loads).toBe(2);
  });
});
