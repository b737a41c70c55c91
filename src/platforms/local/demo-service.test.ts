import { createServer } from 'node:net';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DemoServiceConfigError,
  parseDemoServiceConfig,
  seededRandom,
  startDemoService,
  type DemoService,
  type DemoServiceOptions,
} from './demo-service.js';

const started: DemoService[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((service) => service.close()));
});

async function demo(options: DemoServiceOptions = {}): Promise<DemoService> {
  const service = await startDemoService({ hostname: 'test-host', ...options });
  started.push(service);
  return service;
}

async function get(url: string, method: 'GET' | 'HEAD' | 'POST' = 'GET') {
  const response = await request(url, { method });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    version: response.headers['x-version'],
    contentType: String(response.headers['content-type']),
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}

/** Prometheus text → sample value by `name{labels}` exactly as exposed. */
function samples(text: string): Map<string, number> {
  const result = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    result.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return result;
}

describe('demo service endpoints', () => {
  it('GET / answers its version, message, host name and pid, with x-version', async () => {
    const service = await demo({ version: '2.1.0', message: 'hello', pid: 4242 });
    const answer = await get(`${service.url}/`);
    expect(answer.status).toBe(200);
    expect(answer.version).toBe('2.1.0');
    expect(answer.contentType).toMatch(/^application\/json/);
    expect(answer.json()).toEqual({ version: '2.1.0', message: 'hello', hostname: 'test-host', pid: 4242 });
  });

  it('answers /healthz, /readyz and /version', async () => {
    const service = await demo({ version: '3.0.0' });
    for (const path of ['/healthz', '/readyz']) {
      const answer = await get(`${service.url}${path}`);
      expect([path, answer.status, answer.json()]).toEqual([path, 200, { status: 'ok' }]);
    }
    const version = await get(`${service.url}/version`);
    expect([version.status, version.json(), version.version]).toEqual([200, { version: '3.0.0' }, '3.0.0']);
  });

  it('is not ready until READY_DELAY has passed, but is live at once', async () => {
    const service = await demo({ readyDelayMs: 300 });
    const early = await get(`${service.url}/readyz`);
    expect([early.status, early.json()]).toEqual([503, { status: 'starting' }]);
    expect((await get(`${service.url}/healthz`)).status).toBe(200);
    await expect.poll(async () => (await get(`${service.url}/readyz`)).status, { timeout: 5_000 }).toBe(200);
    expect(service.isReady()).toBe(true);
  });

  it('/status/{code} answers that code, and 400 for anything but 200–599', async () => {
    const service = await demo({ version: '1.2.3' });
    for (const code of [200, 201, 302, 404, 418, 500, 503, 599]) {
      const answer = await get(`${service.url}/status/${code}`);
      expect([code, answer.status, answer.version]).toEqual([code, code, '1.2.3']);
    }
    for (const bad of ['99', '100', '600', 'abc', '5000', '']) {
      const answer = await get(`${service.url}/status/${bad}`);
      expect([bad, answer.status, answer.version]).toEqual([bad, 400, '1.2.3']);
      expect(answer.json()['error']).toMatch(/status code must be a number from 200 to 599/);
    }
  });

  it('/delay/{seconds} waits then answers 200, caps the wait, and rejects invalid delays', async () => {
    const service = await demo({ maxDelaySeconds: 0.2 });
    const before = performance.now();
    const answer = await get(`${service.url}/delay/0.15`);
    expect([answer.status, answer.json()]).toEqual([200, { delay: 0.15 }]);
    // Timers may fire up to a millisecond early against performance.now().
    expect(performance.now() - before).toBeGreaterThanOrEqual(149);

    const capped = await get(`${service.url}/delay/1000`);
    expect([capped.status, capped.json()]).toEqual([200, { delay: 0.2 }]);

    for (const bad of ['-1', 'abc', '1e3', 'NaN', '']) {
      const invalid = await get(`${service.url}/delay/${bad}`);
      expect([bad, invalid.status]).toEqual([bad, 400]);
      expect(invalid.json()['error']).toMatch(/delay must be a number of seconds/);
    }
  });

  it('answers 404 for unknown paths and 405 for methods other than GET/HEAD, with x-version', async () => {
    const service = await demo({ version: '9.9.9' });
    const missing = await get(`${service.url}/nope`);
    expect([missing.status, missing.version]).toEqual([404, '9.9.9']);
    const post = await get(`${service.url}/`, 'POST');
    expect([post.status, post.version]).toEqual([405, '9.9.9']);
    const head = await get(`${service.url}/version`, 'HEAD');
    expect([head.status, head.text, head.version]).toEqual([200, '', '9.9.9']);
  });
});

describe('fault injection', () => {
  it('ERROR_RATE 0.3 with a SEED answers the exact seeded share of 1000 requests with 500', async () => {
    const service = await demo({ errorRate: 0.3, seed: 42 });
    const statuses: number[] = [];
    for (let index = 0; index < 1000; index += 1) {
      const answer = await get(`${service.url}/`);
      expect(answer.version).toBe('1.0.0');
      statuses.push(answer.status);
    }
    const errors = statuses.filter((status) => status === 500).length;
    const random = seededRandom(42);
    const expected = Array.from({ length: 1000 }, () => random() < 0.3).filter(Boolean).length;
    expect(errors).toBe(expected);
    expect(errors).toBeGreaterThan(250);
    expect(errors).toBeLessThan(350);
    expect(statuses.every((status) => status === 200 || status === 500)).toBe(true);

    // The same seed replays the same pattern.
    const again = await demo({ errorRate: 0.3, seed: 42 });
    const replay: number[] = [];
    for (let index = 0; index < 100; index += 1) replay.push((await get(`${again.url}/`)).status);
    expect(replay).toEqual(statuses.slice(0, 100));
  });

  it('ERROR_RATE 1 fails every request to / but not the probes', async () => {
    const service = await demo({ errorRate: 1 });
    const failure = await get(`${service.url}/`);
    expect([failure.status, failure.json()['error']]).toEqual([500, 'injected failure']);
    expect((await get(`${service.url}/healthz`)).status).toBe(200);
    expect((await get(`${service.url}/readyz`)).status).toBe(200);
  });

  it('adds the configured latency to GET / (a minimum: jitter only adds)', async () => {
    const service = await demo({ latencyMs: 120, latencyJitterMs: 30, seed: 7 });
    for (let index = 0; index < 5; index += 1) {
      const before = performance.now();
      expect((await get(`${service.url}/`)).status).toBe(200);
      expect(performance.now() - before).toBeGreaterThanOrEqual(119);
    }
    const metrics = samples((await get(`${service.url}/metrics`)).text);
    expect(
      metrics.get('http_request_duration_seconds_bucket{le="0.1",method="GET",path="/",status="200"}'),
    ).toBe(0);
    expect(metrics.get('http_request_duration_seconds_count{method="GET",path="/",status="200"}')).toBe(5);
  });
});

describe('/metrics', () => {
  it('counts requests by method, route template and status, never by raw path', async () => {
    const registry = new Registry();
    const service = await demo({ registry, version: '4.0.0' });
    for (const path of [
      '/',
      '/',
      '/status/500',
      '/status/503',
      '/status/503',
      '/status/x',
      '/delay/0',
      '/a/b/c',
    ]) {
      await get(`${service.url}${path}`);
    }
    const answer = await get(`${service.url}/metrics`);
    expect(answer.contentType).toMatch(/^text\/plain/);
    const metrics = samples(answer.text);
    expect(metrics.get('http_requests_total{method="GET",path="/",status="200"}')).toBe(2);
    expect(metrics.get('http_requests_total{method="GET",path="/status/{code}",status="500"}')).toBe(1);
    expect(metrics.get('http_requests_total{method="GET",path="/status/{code}",status="503"}')).toBe(2);
    expect(metrics.get('http_requests_total{method="GET",path="/status/{code}",status="400"}')).toBe(1);
    expect(metrics.get('http_requests_total{method="GET",path="/delay/{seconds}",status="200"}')).toBe(1);
    expect(metrics.get('http_requests_total{method="GET",path="unmatched",status="404"}')).toBe(1);
    expect(
      metrics.get('http_request_duration_seconds_count{method="GET",path="/status/{code}",status="503"}'),
    ).toBe(2);
    expect(metrics.get('demo_service_info{version="4.0.0"}')).toBe(1);
    expect(answer.text).not.toMatch(/path="\/status\/5/);
    expect(answer.text).not.toMatch(/path="\/a\/b\/c"/);
    // The injected registry holds the same series.
    expect(await registry.metrics()).toContain('http_requests_total{method="GET",path="/",status="200"} 2');
  });
});

describe('configuration', () => {
  it('reads every variable, with defaults for the ones left out or empty', () => {
    expect(parseDemoServiceConfig({})).toEqual({
      port: 0,
      host: '127.0.0.1',
      version: '1.0.0',
      message: 'greetings from the Vireo demo service',
      errorRate: 0,
      latencyMs: 0,
      latencyJitterMs: 0,
      seed: undefined,
      readyDelayMs: 0,
    });
    expect(
      parseDemoServiceConfig({
        PORT: '8080',
        HOST: '0.0.0.0',
        VERSION: '2.0.0',
        MESSAGE: 'v2 here',
        ERROR_RATE: '0.3',
        LATENCY: '50ms',
        LATENCY_JITTER: '1.5s',
        SEED: '42',
        READY_DELAY: '2s',
        ERROR_RATE_UNUSED: 'x',
      }),
    ).toEqual({
      port: 8080,
      host: '0.0.0.0',
      version: '2.0.0',
      message: 'v2 here',
      errorRate: 0.3,
      latencyMs: 50,
      latencyJitterMs: 1500,
      seed: 42,
      readyDelayMs: 2000,
    });
    expect(parseDemoServiceConfig({ ERROR_RATE: '', LATENCY: ' ' })).toMatchObject({
      errorRate: 0,
      latencyMs: 0,
    });
  });

  it.each([
    ['ERROR_RATE', '2'],
    ['ERROR_RATE', '-0.1'],
    ['ERROR_RATE', 'abc'],
    ['LATENCY', 'abc'],
    ['LATENCY', '-1s'],
    ['LATENCY', '50'],
    ['LATENCY_JITTER', '10 ms'],
    ['READY_DELAY', 'soon'],
    ['PORT', '70000'],
    ['PORT', 'http'],
    ['SEED', '-1'],
    ['SEED', 'abc'],
  ])('rejects %s=%s with an error naming the variable', (variable, value) => {
    const attempt = () => parseDemoServiceConfig({ [variable]: value });
    expect(attempt).toThrow(DemoServiceConfigError);
    expect(attempt).toThrow(
      new RegExp(`^${variable} must be .*got "${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`),
    );
  });

  it('rejects bad in-process options naming the option', async () => {
    await expect(startDemoService({ errorRate: 2 })).rejects.toThrow(
      /^errorRate must be a number from 0 to 1/,
    );
    await expect(startDemoService({ latencyMs: -5 })).rejects.toMatchObject({
      code: 'E_DEMO_SERVICE_CONFIG',
      variable: 'latencyMs',
    });
  });

  it('reports a port in use as a clear error', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(startDemoService({ port })).rejects.toMatchObject({
        code: 'E_DEMO_SERVICE_LISTEN',
        message: expect.stringMatching(
          new RegExp(`cannot listen on 127.0.0.1:${port}: the address is already in use`),
        ),
      });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe('seededRandom', () => {
  it('replays the same sequence for a seed, in [0, 1), and differs between seeds', () => {
    const first = seededRandom(1);
    const second = seededRandom(1);
    const values = Array.from({ length: 1000 }, () => first());
    expect(Array.from({ length: 1000 }, () => second())).toEqual(values);
    expect(values.every((value) => value >= 0 && value < 1)).toBe(true);
    const other = seededRandom(2);
    expect(Array.from({ length: 10 }, () => other())).not.toEqual(values.slice(0, 10));
  });
});

describe('graceful close', () => {
  it('finishes an in-flight request, says Connection: close, then refuses new connections', async () => {
    const service = await demo();
    const inFlight = request(`${service.url}/delay/0.3`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closed = service.close();
    expect(service.isReady()).toBe(false);
    const response = await inFlight;
    expect(response.statusCode).toBe(200);
    expect(response.headers['connection']).toBe('close');
    expect(await response.body.json()).toEqual({ delay: 0.3 });
    await closed;
    await expect(request(`${service.url}/`)).rejects.toThrow();
    expect(service.close()).toBe(closed);
  });
});
