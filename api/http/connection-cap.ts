import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { normalizeAddress } from './client-address.ts';

const refusalBody = JSON.stringify({
  error: { code: 'rate_limited', message: 'Too many open connections from this address; reuse or close some.' },
});

/**
 * Caps the connections one client address holds open at `max`. Each open connection costs a socket,
 * parser state and whatever its request holds; without a cap one address can take them all (red-team
 * finding 4). The check runs when the connection is accepted, before Node's HTTP parser is attached:
 * a connection over the cap gets a canned `429 rate_limited` (with Retry-After and X-Request-Id, as
 * every response) and is closed, whatever it sends. Peers for which `exempt` holds (trusted
 * proxies, which multiplex many clients) are not counted.
 */
export function capConnectionsPerClient(server: Server, max: number, exempt: (peer: string) => boolean): void {
  const open = new Map<string, number>();
  // Node's own 'connection' listener starts HTTP parsing; it runs only for accepted connections.
  const httpListeners = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    const peer = normalizeAddress(socket.remoteAddress);
    if (!exempt(peer)) {
      const count = open.get(peer) ?? 0;
      if (count >= max) return refuse(socket);
      open.set(peer, count + 1);
      socket.once('close', () => {
        const left = (open.get(peer) ?? 1) - 1;
        if (left > 0) open.set(peer, left);
        else open.delete(peer);
      });
    }
    for (const listener of httpListeners) listener.call(server, socket);
  });
}

function refuse(socket: Socket): void {
  socket.on('error', () => socket.destroy());
  socket.resume(); // whatever the client sends is dropped unread
  socket.setTimeout(1_000, () => socket.destroy());
  socket.end(
    'HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(refusalBody)}\r\nRetry-After: 1\r\nX-Request-Id: ${randomUUID()}\r\nConnection: close\r\n\r\n${refusalBody}`,
  );
}
