import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ephemeralPortRange, findFreePort, isPortInUse } from '../../scripts/lib/local-services.ts';

describe('findFreePort', () => {
  it('picks a port outside the range the kernel gives outgoing connections, and one we can listen on', async () => {
    const range = ephemeralPortRange();
    const ports = await Promise.all(Array.from({ length: 20 }, () => findFreePort()));
    for (const port of ports) {
      if (range[0] > 21_000) expect(port < range[0] || port > range[1]).toBe(true);
      const server = net.createServer().listen(port);
      await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('does not return a port something listens on', async () => {
    const held: net.Server[] = [];
    try {
      const taken = new Set<number>();
      for (let i = 0; i < 30; i++) {
        const port = await findFreePort();
        expect(taken.has(port)).toBe(false);
        const server = net.createServer().listen(port);
        await new Promise((r) => server.once('listening', r));
        held.push(server);
        taken.add(port);
      }
    } finally {
      await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    }
  });

  it('isPortInUse tells a held port from a free one', async () => {
    const port = await findFreePort();
    expect(await isPortInUse(port)).toBe(false);
    const server = net.createServer().listen(port, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      expect(await isPortInUse(port)).toBe(true);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
