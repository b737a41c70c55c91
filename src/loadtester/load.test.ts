import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSystemClock } from './clock.js';
import { InvalidTaskError } from './errors.js';
import { parseLoadSpec, runLoad } from './load.js';

const clock = createSystemClock();
const servers: Server[] = [];

interface Target {
  readonly url: string;
  readonly seen: { method: string; path: string; headers: IncomingMessage['headers']; body: string }[];
}

/** A local HTTP server: /fail answers 503, /half alternates 200 and 500, anything else 200. */
async function startTarget(): Promise<Target> {
  const seen: Target['seen'] = [];
  let half = 0;
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      seen.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, body });
      if (request.url === '/fail') response.statusCode = 503;
      if (request.url === '/half') response.statusCode = half++ % 2 === 0 ? 200 : 500;
      response.end('ok');
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('parseLoadSpec', () => {
  it('applies the documented defaults', () => {
    const spec = parseLoadSpec({ url: 'http://podinfo-canary.test:9898/' });
    expect(spec).toMatchObject({ method: 'GET', durationMs: 60_000, qps: 10, concurrency: 2, headers: {} });
    expect(spec.body).toBeUndefined();
  });

  it.each([
    [{}, 'metadata.url is required for type load'],
    [{ url: 'not a url' }, 'metadata.url "not a url" is not a URL'],
    [{ url: 'file:///etc/passwd' }, 'metadata.url must be http or https, got file'],
    [{ url: 'http://h/', method: 'TRACE' }, 'metadata.method must be one of'],
    [{ url: 'http://h/', duration: '2h' }, 'metadata.duration must be a Go duration above 0 and at most 1h'],
    [{ url: 'http://h/', duration: '10' }, 'metadata.duration'],
    [{ url: 'http://h/', qps: '-1' }, 'metadata.qps must be between 0 and'],
    [{ url: 'http://h/', qps: 'fast' }, 'metadata.qps must be a number, got "fast"'],
    [{ url: 'http://h/', concurrency: '0' }, 'metadata.concurrency must be a whole number from 1'],
    [{ url: 'http://h/', concurrency: '1.5' }, 'metadata.concurrency'],
    [{ url: 'http://h/', headers: '["a"]' }, 'metadata.headers must be a JSON object of strings'],
    [{ url: 'http://h/', headers: '{"a b":"c"}' }, '"a b" is not a header name'],
    [{ url: 'http://h/', headers: '{"x":"a\\r\\nb: c"}' }, 'metadata.headers.x must be a one-line string'],
    [{ url: 'http://h/', headers: '{"Content-Length":"1"}' }, 'Content-Length is set by the load generator'],
    [{ url: 'http://h/', body: 'x' }, 'metadata.body cannot be sent with GET'],
  ])('refuses %j', (metadata, message) => {
    expect(() => parseLoadSpec(metadata)).toThrow(InvalidTaskError);
    expect(() => parseLoadSpec(metadata)).toThrow(message);
  });
});

describe('runLoad', () => {
  it('sends requests paced by qps and reports exactly what the target saw', async () => {
    const target = await startTarget();
    const report = await runLoad(
      parseLoadSpec({ url: `${target.url}/`, duration: '1s', qps: '20', concurrency: '2' }),
      { clock },
    );
    // Outcomes, not speed: a loaded machine sends fewer, never more than qps × duration allows.
    expect(report.requests).toBeGreaterThan(0);
    expect(report.requests).toBeLessThanOrEqual(20 + 2);
    expect(Math.abs(report.requests - target.seen.length)).toBeLessThanOrEqual(1);
    expect(report).toMatchObject({ errors: 0, successRate: 100, statusCodes: { '200': report.requests } });
    expect(report.latencyMs.p50).toBeGreaterThan(0);
    expect(report.latencyMs.p50).toBeLessThanOrEqual(report.latencyMs.p99);
    expect(report.latencyMs.p99).toBeLessThanOrEqual(report.latencyMs.max);
  });

  it('counts 5xx answers as errors, per status', async () => {
    const target = await startTarget();
    const report = await runLoad(parseLoadSpec({ url: `${target.url}/half`, duration: '500ms', qps: '20' }), {
      clock,
    });
    const ok = report.statusCodes['200'] ?? 0;
    const failed = report.statusCodes['500'] ?? 0;
    expect(ok + failed).toBe(report.requests);
    expect(failed).toBeGreaterThan(0);
    expect(report.errors).toBe(failed);
    expect(report.successRate).toBeCloseTo((ok / report.requests) * 100, 1);
  });

  it('counts requests that get no answer as errors and says why', async () => {
    const report = await runLoad(
      parseLoadSpec({ url: 'http://127.0.0.1:1/', duration: '300ms', qps: '10' }),
      {
        clock,
      },
    );
    expect(report.requests).toBeGreaterThan(0);
    expect(report.errors).toBe(report.requests);
    expect(report.successRate).toBe(0);
    expect(report.statusCodes).toEqual({});
    expect(report.firstError).toMatch(/ECONNREFUSED|connect/);
  });

  it('sends the method, headers and body asked for', async () => {
    const target = await startTarget();
    await runLoad(
      parseLoadSpec({
        url: `${target.url}/orders?x=1`,
        method: 'post',
        body: '{"id":1}',
        headers: '{"x-canary":"insider","content-type":"application/json"}',
        duration: '200ms',
        qps: '5',
        concurrency: '1',
      }),
      { clock },
    );
    expect(target.seen[0]).toMatchObject({ method: 'POST', path: '/orders?x=1', body: '{"id":1}' });
    expect(target.seen[0]?.headers['x-canary']).toBe('insider');
  });

  it('runs without pacing with qps 0', async () => {
    const target = await startTarget();
    const report = await runLoad(parseLoadSpec({ url: `${target.url}/`, duration: '300ms', qps: '0' }), {
      clock,
    });
    expect(report.requests).toBeGreaterThan(0);
    expect(Math.abs(report.requests - target.seen.length)).toBeLessThanOrEqual(1);
  });

  it('stops at once when its signal aborts (the server is closing)', async () => {
    const target = await startTarget();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const report = await runLoad(parseLoadSpec({ url: `${target.url}/`, duration: '30s', qps: '50' }), {
      clock,
      signal: controller.signal,
    });
    // It ended well before its 30 s duration: the abort, not the clock, stopped it.
    expect(report.durationMs).toBeLessThan(30_000);
    expect(report.requests).toBeGreaterThan(0);
  });
});
