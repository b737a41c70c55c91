import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startControllerHttpServer, type ControllerHttpServer } from './http-server.js';

const servers: ControllerHttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(healthy: boolean): Promise<string> {
  const server = await startControllerHttpServer({
    host: '127.0.0.1',
    port: 0,
    registry: new Registry(),
    health: { healthy: () => healthy, describe: () => ({ leader: true, watches: 7 }) },
  });
  servers.push(server);
  return `http://127.0.0.1:${server.port}`;
}

describe('the controller /healthz', () => {
  it("answers OK as text, as Flagger's, which probes and scripts grep for", async () => {
    const response = await fetch(`${await serve(true)}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toBe('OK');
  });

  it('gives the details as JSON to a client that asks for them', async () => {
    const response = await fetch(`${await serve(true)}/healthz`, { headers: { accept: 'application/json' } });
    expect(await response.json()).toEqual({ status: 'ok', leader: true, watches: 7 });
  });

  it('answers 503 while the caches are not filled yet', async () => {
    const base = await serve(false);
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('starting');
  });
});
