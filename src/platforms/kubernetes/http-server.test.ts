import { Gauge, Registry } from 'prom-client';
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

describe('the controller /metrics and other paths', () => {
  it("serves the registry's series in Prometheus' text format", async () => {
    const registry = new Registry();
    new Gauge({ name: 'flagger_info', help: 'info', registers: [registry] }).set(1);
    const server = await startControllerHttpServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      health: { healthy: () => true, describe: () => ({}) },
    });
    servers.push(server);
    const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(registry.contentType);
    expect(await response.text()).toContain('flagger_info 1');
  });

  it('answers 404 to any other path and to methods that are not GET', async () => {
    const base = await serve(true);
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/extra`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`, { method: 'POST', body: 'x' })).status).toBe(404);
    expect((await fetch(`${base}/healthz`, { method: 'HEAD' })).status).toBe(200);
  });
});
