import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { findFreePort } from './free-port.js';

const servers: Server[] = [];

async function bind(port: number, host: string): Promise<Server> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('findFreePort', () => {
  it('returns a loopback port that can be bound right away', async () => {
    const port = await findFreePort();
    expect(port).toBeGreaterThan(0);
    const server = await bind(port, '127.0.0.1');
    expect(server.address()).toMatchObject({ port, address: '127.0.0.1' });
  });

  it('does not hand out a port that is in use', async () => {
    const held = await bind(0, '127.0.0.1');
    const heldPort = (held.address() as { port: number }).port;
    const ports = await Promise.all(Array.from({ length: 5 }, () => findFreePort('127.0.0.1')));
    expect(ports).not.toContain(heldPort);
  });

  it('rejects a host it cannot listen on instead of answering 0', async () => {
    await expect(findFreePort('192.0.2.1')).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
  });
});
