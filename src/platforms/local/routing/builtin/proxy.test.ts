import { get as httpGet, type IncomingMessage } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { Registry } from 'prom-client';
import { Pool, request } from 'undici';
import { describe, expect, it } from 'vitest';
import {
  cleanups,
  eventually,
  refusedUrl,
  seededRandom,
  sha256,
  startRawUpstream,
  startUpstream,
  type TestUpstream,
  type UpstreamHandler,
} from '../../../../../test/support/router-upstreams.js';
import { BACKEND_HEADER, MIRROR_HEADER, ProxyRouter, type ProxyRouterDeps } from './proxy.js';
import { TrafficRecorder } from './recorder.js';
import type { LocalRoute } from '../route.js';

const cleanup = cleanups();
const MINUTE = 60_000;
/** Tests that move a thousand requests or 20 MB: generous on slow CI machines (not a speed check). */
const LOAD_TEST_TIMEOUT_MS = 60_000;

function newTestRoute(overrides: Partial<LocalRoute> = {}): LocalRoute {
  return {
    namespace: 'test',
    service: 'podinfo',
    listen: { host: '127.0.0.1', port: 0 },
    primary: [],
    canary: [],
    canaryWeight: 0,
    mirror: false,
    match: [],
    ...overrides,
  };
}

async function upstream(name: string, handler?: UpstreamHandler): Promise<TestUpstream> {
  const started = await startUpstream(name, handler);
  cleanup(() => started.close());
  return started;
}

async function startRouter(route: Partial<LocalRoute>, deps: Partial<ProxyRouterDeps> = {}) {
  const recorder = new TrafficRecorder({ registry: new Registry() });
  const router = await ProxyRouter.start(newTestRoute(route), { recorder, ...deps });
  cleanup(() => router.close());
  const pool = new Pool(router.url, { connections: 16 });
  cleanup(() => pool.close());
  return { router, recorder, pool };
}

interface Answer {
  readonly status: number;
  readonly backend: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

async function send(
  pool: Pool,
  options: { path?: string; method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const response = await pool.request({
    path: options.path ?? '/',
    method: options.method ?? 'GET',
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    backend: String(response.headers[BACKEND_HEADER]),
    headers: response.headers,
    text,
  };
}

/** Runs `count` tasks, `concurrency` at a time, and returns their results in order. */
async function times<T>(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next;
      next += 1;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

const tally = (values: readonly string[]) =>
  values.reduce<Record<string, number>>(
    (counts, value) => ({ ...counts, [value]: (counts[value] ?? 0) + 1 }),
    {},
  );

/** An upstream that holds every answer until the test lets it go. */
async function heldUpstream(name: string, status = 200) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const arrived: string[] = [];
  const held = await upstream(name, (_req, res, received) => {
    arrived.push(received.url);
    void released.then(() => res.writeHead(status, { 'x-upstream': name }).end(name));
  });
  return { upstream: held, arrived, release };
}

describe('ProxyRouter weighted split', () => {
  it(
    'sends exactly the seeded share to the canary, as the header, the upstreams and the recorder show',
    async () => {
      const primary = await upstream('primary');
      const canary = await upstream('canary');
      const { pool, recorder } = await startRouter(
        { primary: [primary.url], canary: [canary.url], canaryWeight: 30 },
        { random: seededRandom(42) },
      );
      const draws = seededRandom(42);
      const expectedCanary = Array.from({ length: 1000 }, draws).filter((value) => value < 0.3).length;

      const answers = await times(1000, 10, () => send(pool));

      expect(answers.every((answer) => answer.status === 200)).toBe(true);
      expect(tally(answers.map((answer) => answer.backend))).toEqual({
        canary: expectedCanary,
        primary: 1000 - expectedCanary,
      });
      expect(answers.every((answer) => JSON.parse(answer.text).name === answer.backend)).toBe(true);
      expect(canary.received).toHaveLength(expectedCanary);
      expect(primary.received).toHaveLength(1000 - expectedCanary);
      // Upstream connections are pooled and kept alive: at most one per concurrent request.
      expect(primary.connections).toBeLessThanOrEqual(10);
      await eventually(() => {
        const seen = recorder.observe('test', 'podinfo', MINUTE);
        return seen.canary.requests + seen.primary.requests === 1000;
      });
      expect(recorder.observe('test', 'podinfo', MINUTE).canary).toMatchObject({
        requests: expectedCanary,
        errors: 0,
      });
      const text = await recorder.metricsText();
      expect(text).toContain(
        `vireo_router_requests_total{namespace="test",service="podinfo",backend="canary",code="200"} ${expectedCanary}`,
      );
      expect(text).toContain(
        `vireo_router_requests_total{namespace="test",service="podinfo",backend="primary",code="200"} ${1000 - expectedCanary}`,
      );
    },
    LOAD_TEST_TIMEOUT_MS,
  );

  it('spreads an arm over its replicas round-robin', async () => {
    const first = await upstream('one');
    const second = await upstream('two');
    const { pool } = await startRouter({ primary: [first.url, second.url] });
    await times(10, 1, () => send(pool));
    expect(first.received).toHaveLength(5);
    expect(second.received).toHaveLength(5);
  });
});

describe('ProxyRouter A/B matching', () => {
  it('routes matching headers, cookies and query parameters to the canary, others to the primary', async () => {
    const primary = await upstream('primary');
    const canary = await upstream('canary');
    const { pool } = await startRouter({
      primary: [primary.url],
      canary: [canary.url],
      match: [
        { headers: { 'X-Canary': { exact: 'insider' } } },
        { headers: { 'user-agent': { regex: '.*Firefox.*' } } },
        { headers: { cookie: { regex: '.*canary=always.*' } } },
        { queryParams: { variant: { prefix: 'b' } } },
      ],
    });
    const backend = async (options: Parameters<typeof send>[1]) => (await send(pool, options)).backend;
    expect(await backend({ headers: { 'x-canary': 'insider' } })).toBe('canary');
    expect(await backend({ headers: { 'x-canary': 'outsider' } })).toBe('primary');
    expect(await backend({ headers: { 'user-agent': 'Mozilla/5.0 Firefox/120.0' } })).toBe('canary');
    expect(await backend({ headers: { 'user-agent': 'curl/8' } })).toBe('primary');
    expect(await backend({ headers: { cookie: 'theme=dark; canary=always' } })).toBe('canary');
    expect(await backend({ headers: { cookie: 'canary=never' } })).toBe('primary');
    expect(await backend({ path: '/items?variant=beta' })).toBe('canary');
    expect(await backend({ path: '/items?variant=alpha' })).toBe('primary');
    expect(canary.received.map((seen) => seen.url)).toContain('/items?variant=beta');
  });

  it('answers at once a header aimed at a catastrophic-backtracking regex, and keeps serving others', async () => {
    const primary = await upstream('primary');
    const canary = await upstream('canary');
    const { pool } = await startRouter({
      primary: [primary.url],
      canary: [canary.url],
      match: [{ headers: { 'x-user': { regex: '^(a+)+$' } } }],
    });
    // 2^100 steps for a backtracking engine: only a linear-time one answers these.
    const evil = send(pool, { headers: { 'x-user': `${'a'.repeat(100)}!` } });
    const plain = send(pool, { headers: { 'x-user': 'a'.repeat(100) } });
    expect((await evil).backend).toBe('primary');
    expect((await plain).backend).toBe('canary');
  });
});

describe('ProxyRouter session affinity', () => {
  const affinity = {
    cookieName: 'flagger-cookie',
    canaryValue: 'ABCdefGHIj',
    primaryCookieName: 'flagger-primary',
    primaryValue: 'KLMnopQRSt',
    previousValue: 'OLDoldOLDo',
    maxAgeSeconds: 86_400,
    primaryMaxAgeSeconds: 60,
    path: '/',
    httpOnly: true,
  };

  it('sets the canary cookie, then keeps its holder on the canary whatever the weight', async () => {
    const primary = await upstream('primary');
    const canary = await upstream('canary', (_req, res) => {
      res.writeHead(200, { 'set-cookie': 'app=1' }).end('canary');
    });
    const { router, pool } = await startRouter(
      { primary: [primary.url], canary: [canary.url], canaryWeight: 50, sessionAffinity: affinity },
      { random: () => 0.1 },
    );
    const first = await send(pool);
    expect(first.backend).toBe('canary');
    expect(first.headers['set-cookie']).toEqual([
      'app=1',
      'flagger-cookie=ABCdefGHIj; Max-Age=86400; HttpOnly; Path=/',
    ]);

    router.configure(
      newTestRoute({
        primary: [primary.url],
        canary: [canary.url],
        canaryWeight: 1,
        sessionAffinity: affinity,
      }),
    );
    const again = await send(pool, { headers: { cookie: 'flagger-cookie=ABCdefGHIj' } });
    expect(again.backend).toBe('canary');
    expect(again.headers['set-cookie']).toBe('app=1');
  });

  it('sets the primary cookie on weighted primary answers and honours it', async () => {
    const primary = await upstream('primary');
    const canary = await upstream('canary');
    const { pool } = await startRouter(
      { primary: [primary.url], canary: [canary.url], canaryWeight: 50, sessionAffinity: affinity },
      { random: () => 0.9 },
    );
    const first = await send(pool);
    expect(first.backend).toBe('primary');
    expect(first.headers['set-cookie']).toBe('flagger-primary=KLMnopQRSt; Max-Age=60; HttpOnly; Path=/');
    const { router: pinned, pool: pinnedPool } = await startRouter(
      { primary: [primary.url], canary: [canary.url], canaryWeight: 99, sessionAffinity: affinity },
      { random: () => 0 },
    );
    expect(pinned.route.canaryWeight).toBe(99);
    expect((await send(pinnedPool, { headers: { cookie: 'flagger-primary=KLMnopQRSt' } })).backend).toBe(
      'primary',
    );
  });

  it('expires the previous run cookie and answers from the primary', async () => {
    const primary = await upstream('primary');
    const canary = await upstream('canary');
    const { pool } = await startRouter({
      primary: [primary.url],
      canary: [canary.url],
      canaryWeight: 0,
      sessionAffinity: { ...affinity, canaryValue: undefined },
    });
    const answer = await send(pool, { headers: { cookie: 'flagger-cookie=OLDoldOLDo' } });
    expect(answer.backend).toBe('primary');
    expect(answer.headers['set-cookie']).toBe('flagger-cookie=OLDoldOLDo; Max-Age=-1; HttpOnly; Path=/');
  });
});

describe('ProxyRouter mirroring', () => {
  it('sends the canary a copy with the body, and the client only the primary answer', async () => {
    const primary = await upstream('primary');
    const canary = await upstream('canary', (_req, res) => res.writeHead(201).end('canary answer'));
    const { pool, recorder } = await startRouter({
      primary: [primary.url],
      canary: [canary.url],
      mirror: true,
    });
    const body = JSON.stringify({ order: 42, items: ['a', 'b'] });

    const answer = await send(pool, {
      method: 'POST',
      path: '/orders?x=1',
      body,
      headers: { 'x-user': 'u1' },
    });

    expect(answer.status).toBe(200);
    expect(answer.backend).toBe('primary');
    expect(JSON.parse(answer.text).name).toBe('primary');
    await eventually(() => canary.received.length === 1);
    const copy = canary.received[0]!;
    expect(copy).toMatchObject({ method: 'POST', url: '/orders?x=1', bodySha256: sha256(Buffer.from(body)) });
    expect(copy.headers['x-user']).toBe('u1');
    expect(copy.headers[MIRROR_HEADER]).toBe('1');
    expect(primary.received[0]!.bodySha256).toBe(copy.bodySha256);
    await eventually(() => recorder.observe('test', 'podinfo', MINUTE).canary.requests === 1);
    expect(await recorder.metricsText()).toContain(
      'vireo_router_mirrored_requests_total{namespace="test",service="podinfo",code="201"} 1',
    );
  });

  it(
    'mirrors only mirrorWeight% of the requests',
    async () => {
      const primary = await upstream('primary');
      const canary = await upstream('canary');
      const { pool } = await startRouter(
        { primary: [primary.url], canary: [canary.url], mirror: true, mirrorWeight: 50 },
        { random: seededRandom(7) },
      );
      const draws = seededRandom(7);
      const expected = Array.from({ length: 200 }, draws).filter((value) => value < 0.5).length;
      await times(200, 8, () => send(pool));
      await eventually(() => canary.received.length === expected);
      expect(primary.received).toHaveLength(200);
    },
    LOAD_TEST_TIMEOUT_MS,
  );

  it('never lets a failing, refusing or hanging canary affect the client, and counts the copy as an error', async () => {
    const primary = await upstream('primary');
    const failing = await upstream('failing', (_req, res) => res.writeHead(500).end('boom'));
    const hanging = await upstream('hanging', () => undefined);
    const refused = await refusedUrl();
    for (const canaryUrl of [failing.url, refused, hanging.url]) {
      const { pool, recorder } = await startRouter(
        { primary: [primary.url], canary: [canaryUrl], mirror: true },
        { mirrorTimeoutMs: 200 },
      );
      const answer = await send(pool, { method: 'POST', body: 'payload' });
      expect(answer).toMatchObject({ status: 200, backend: 'primary' });
      await eventually(() => recorder.successRate('test', 'podinfo', 'canary', MINUTE) !== undefined);
      expect(recorder.successRate('test', 'podinfo', 'canary', MINUTE)).toBe(0);
      expect(recorder.successRate('test', 'podinfo', 'primary', MINUTE)).toBe(100);
    }
  });
});

describe('ProxyRouter reconfiguration', () => {
  it(
    'loses no request and drops no connection while the split changes under concurrent load',
    async () => {
      const upstreams = await Promise.all(['a', 'b', 'c'].map((name) => upstream(name)));
      const [a, b, c] = upstreams.map((started) => started.url) as [string, string, string];
      const { router, pool, recorder } = await startRouter({ primary: [a], canary: [b], canaryWeight: 50 });
      let connects = 0;
      pool.on('connect', () => (connects += 1));
      const variants: Partial<LocalRoute>[] = [
        { primary: [a], canary: [b], canaryWeight: 10 },
        { primary: [b], canary: [c], canaryWeight: 90 },
        { primary: [c, a], canary: [b], canaryWeight: 0, mirror: true },
        { primary: [a], canary: [c], canaryWeight: 100 },
        { primary: [b], canary: [a, c], canaryWeight: 50, match: [{ headers: { 'x-n': { regex: '.*7' } } }] },
      ];
      let done = false;
      let configured = 0;
      const reconfigure = async () => {
        while (!done) {
          router.configure(newTestRoute(variants[configured % variants.length]));
          configured += 1;
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      };
      const load = times(1600, 16, (index) => send(pool, { headers: { 'x-n': String(index) } })).finally(
        () => {
          done = true;
        },
      );
      const [answers] = await Promise.all([load, reconfigure()]);

      expect(configured).toBeGreaterThan(20);
      expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
      expect(connects).toBeLessThanOrEqual(16);
      expect(
        upstreams.reduce(
          (sum, started) => sum + started.received.filter((r) => !r.headers[MIRROR_HEADER]).length,
          0,
        ),
      ).toBe(1600);
      // Every answer served (the checks' windows leave out those of replicas replaced meanwhile).
      await eventually(() => {
        const served = recorder.served('test', 'podinfo', MINUTE);
        return served.primary + served.canary >= 1600;
      });
    },
    LOAD_TEST_TIMEOUT_MS,
  );

  it('lets a request in flight finish on the backend it started on', async () => {
    const old = await heldUpstream('old');
    const fresh = await upstream('fresh');
    const { router, pool } = await startRouter({ primary: [old.upstream.url] });
    const inFlight = send(pool, { path: '/slow' });
    await eventually(() => old.arrived.length === 1);

    router.configure(newTestRoute({ primary: [fresh.url] }));
    const after = await send(pool);
    old.release();

    expect(JSON.parse(after.text).name).toBe('fresh');
    expect(await inFlight).toMatchObject({ status: 200, text: 'old' });
    expect(router.route.primary).toEqual([fresh.url]);
  });

  it.each([
    ['GET (the fast lane)', 'GET'],
    ['POST with a body (node:http)', 'POST'],
  ] as const)(
    'leaves out of the checks the answers of a revision replaced while they ran: %s',
    async (_lane, method) => {
      // The demo's V2 (slow, 30% 500s) was rolled back while some of its requests ran; their answers
      // came after V3 was routed, and V3's first check must not count them (docs/local/router.md).
      const primary = await upstream('primary');
      const v2 = await heldUpstream('v2', 500);
      const v3 = await upstream('v3');
      const { router, pool, recorder } = await startRouter({
        primary: [primary.url],
        canary: [v2.upstream.url],
        canaryWeight: 100,
      });
      const body = method === 'POST' ? { body: 'payload' } : {};
      const inFlight = send(pool, { method, ...body });
      await eventually(() => v2.arrived.length === 1);

      router.configure(newTestRoute({ primary: [primary.url], canary: [v3.url], canaryWeight: 100 }));
      v2.release();
      expect(await inFlight).toMatchObject({ status: 500, text: 'v2' });
      expect(await send(pool, { method, ...body })).toMatchObject({ status: 200, backend: 'canary' });

      await eventually(() => recorder.successRate('test', 'podinfo', 'canary', MINUTE) !== undefined);
      expect(recorder.observe('test', 'podinfo', MINUTE).canary).toMatchObject({ requests: 1, errors: 0 });
      expect(recorder.successRate('test', 'podinfo', 'canary', MINUTE)).toBe(100);
      // Still served (`vireo local status`) and exported: it happened.
      expect(recorder.served('test', 'podinfo', MINUTE)).toEqual({ primary: 0, canary: 2 });
      expect(await recorder.metricsText()).toMatch(
        /vireo_router_requests_total\{[^}]*backend="canary",code="500"\} 1/,
      );
    },
  );

  it('keeps counting answers across a change of weight on the same replicas', async () => {
    const primary = await upstream('primary');
    const canary = await heldUpstream('canary', 500);
    const { router, pool, recorder } = await startRouter({
      primary: [primary.url],
      canary: [canary.upstream.url],
      canaryWeight: 100,
    });
    const inFlight = send(pool);
    await eventually(() => canary.arrived.length === 1);
    router.configure(
      newTestRoute({ primary: [primary.url], canary: [canary.upstream.url], canaryWeight: 50 }),
    );
    canary.release();
    expect(await inFlight).toMatchObject({ status: 500 });
    await eventually(() => recorder.successRate('test', 'podinfo', 'canary', MINUTE) !== undefined);
    expect(recorder.successRate('test', 'podinfo', 'canary', MINUTE)).toBe(0);
  });

  it('rejects an invalid route or another service and keeps serving the current one', async () => {
    const primary = await upstream('primary');
    const { router, pool } = await startRouter({ primary: [primary.url] });
    expect(() => router.configure(newTestRoute({ primary: [primary.url], canaryWeight: 150 }))).toThrow(
      'route.canaryWeight: must be between 0 and 100',
    );
    expect(() => router.configure(newTestRoute({ service: 'other' }))).toThrow(/start another router/);
    expect(() =>
      router.configure(newTestRoute({ listen: { host: '127.0.0.1', port: router.port + 1 } })),
    ).toThrow(/route.listen: cannot change/);
    router.configure(
      newTestRoute({ primary: [primary.url], listen: { host: '127.0.0.1', port: router.port } }),
    );
    expect((await send(pool)).status).toBe(200);
  });
});

describe('ProxyRouter failures', () => {
  it('skips a replica that refuses connections, with the request body intact', async () => {
    const live = await upstream('live');
    const { pool, recorder } = await startRouter({ primary: [await refusedUrl(), live.url] });
    const answers = await times(4, 1, () => send(pool, { method: 'POST', body: 'hello' }));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    expect(live.received.map((seen) => seen.bodySha256)).toEqual(Array(4).fill(sha256(Buffer.from('hello'))));
    await eventually(() => recorder.successRate('test', 'podinfo', 'primary', MINUTE) === 100);
  });

  it('answers 502 when every replica refuses, and 503 naming service and arm when there is none', async () => {
    const { pool, recorder } = await startRouter({
      primary: [await refusedUrl()],
      canary: [],
      canaryWeight: 0,
    });
    const refused = await send(pool);
    expect(refused).toMatchObject({ status: 502, backend: 'primary' });
    expect(refused.text).toContain('ECONNREFUSED');

    const { pool: empty } = await startRouter({ primary: [], canary: [], canaryWeight: 100 });
    const missing = await send(empty);
    expect(missing).toMatchObject({ status: 503, backend: 'canary' });
    expect(missing.text).toBe('vireo router: no canary replica for test/podinfo\n');
    await eventually(() => recorder.successRate('test', 'podinfo', 'primary', MINUTE) === 0);
  });

  it('cuts the answer short and counts a 502 when the upstream dies mid-body', async () => {
    const dying = await startRawUpstream('dying', (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    cleanup(() => dying.close());
    const { pool, recorder } = await startRouter({ primary: [dying.url] });
    await expect(send(pool)).rejects.toThrow();
    await eventually(() => recorder.successRate('test', 'podinfo', 'primary', MINUTE) !== undefined);
    expect(recorder.observe('test', 'podinfo', MINUTE).primary).toMatchObject({ requests: 1, errors: 1 });
  });

  it('retries an idempotent request once when the upstream closed the pooled connection it reused', async () => {
    // A keep-alive upstream that answers the first request of each connection, then closes the
    // connection as the second one arrives, without answering: the race a pool meets when an
    // upstream retires an idle connection just as it is reused.
    const connections: Socket[] = [];
    let received = 0;
    const racy = createNetServer((socket) => {
      connections.push(socket);
      let requests = 0;
      socket.on('data', (chunk) => {
        if (!chunk.includes('\r\n\r\n')) return;
        requests += 1;
        received += 1;
        if (requests === 1) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        else socket.destroy();
      });
    });
    await new Promise<void>((resolve) => racy.listen(0, '127.0.0.1', resolve));
    cleanup(() => new Promise<void>((resolve) => racy.close(() => resolve())));
    cleanup(() => connections.forEach((socket) => socket.destroy()));
    const { pool } = await startRouter({
      primary: [`http://127.0.0.1:${(racy.address() as AddressInfo).port}`],
    });

    const first = await send(pool);
    const again = await send(pool);
    expect([first.status, first.text, again.status, again.text]).toEqual([200, 'ok', 200, 'ok']);
    // Three requests reached the upstream: the first, the second on the reused connection (closed
    // unanswered), and its retry on a new connection.
    expect([received, connections.length]).toEqual([3, 2]);
  });

  it('refuses to start on a port that is taken, saying what to do', async () => {
    const { router } = await startRouter({});
    const recorder = new TrafficRecorder({ registry: new Registry() });
    await expect(
      ProxyRouter.start(newTestRoute({ listen: { host: '127.0.0.1', port: router.port } }), { recorder }),
    ).rejects.toMatchObject({ code: 'E_LISTEN', message: expect.stringContaining('or 0 for any free port') });
  });
});

describe('ProxyRouter streaming and headers', () => {
  const MIB = 1024 * 1024;

  it(
    'streams a 20 MB upload: the upstream reads the start before the client has sent the rest',
    async () => {
      let receivedBytes = 0;
      const hash = (await import('node:crypto')).createHash('sha256');
      const sink = await startRawUpstream('sink', (req, res) => {
        req.on('data', (chunk: Buffer) => {
          receivedBytes += chunk.length;
          hash.update(chunk);
        });
        req.on('end', () => res.end(JSON.stringify({ bytes: receivedBytes, sha: hash.digest('hex') })));
      });
      cleanup(() => sink.close());
      const { router } = await startRouter({ primary: [sink.url] });
      const payload = Buffer.alloc(20 * MIB);
      for (let i = 0; i < payload.length; i += 4096) payload.writeUInt32LE(i, i);
      const body = new PassThrough();
      const answer = request(router.url, { method: 'POST', body });

      body.write(payload.subarray(0, MIB));
      await eventually(() => receivedBytes >= MIB, 10_000);
      expect(receivedBytes).toBeLessThan(payload.length);
      for (let offset = MIB; offset < payload.length; offset += MIB)
        body.write(payload.subarray(offset, offset + MIB));
      body.end();

      const response = await answer;
      expect(await response.body.json()).toEqual({ bytes: payload.length, sha: sha256(payload) });
    },
    LOAD_TEST_TIMEOUT_MS,
  );

  it(
    'streams a 20 MB download: the client reads the start before the upstream has written the rest',
    async () => {
      const payload = Buffer.alloc(20 * MIB, 7);
      payload.write('the end', payload.length - 7);
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const source = await startRawUpstream('source', (_req, res) => {
        res.writeHead(200, { 'content-length': String(payload.length) });
        res.write(payload.subarray(0, MIB));
        void released.then(() => res.end(payload.subarray(MIB)));
      });
      cleanup(() => source.close());
      const { router } = await startRouter({ primary: [source.url] });

      const response = await request(router.url);
      const chunks: Buffer[] = [];
      let got = 0;
      for await (const chunk of response.body) {
        chunks.push(chunk as Buffer);
        got += (chunk as Buffer).length;
        if (got >= MIB) release();
      }
      expect(sha256(Buffer.concat(chunks))).toBe(sha256(payload));
    },
    LOAD_TEST_TIMEOUT_MS,
  );

  it(
    'abandons the copy of a canary that does not read a 20 MB body, without slowing the client',
    async () => {
      const primary = await upstream('primary');
      const stuck = await startRawUpstream('stuck', (req) => req.pause());
      cleanup(() => stuck.close());
      const { router, recorder } = await startRouter({
        primary: [primary.url],
        canary: [stuck.url],
        mirror: true,
      });
      const payload = Buffer.alloc(20 * MIB, 1);
      const response = await request(router.url, { method: 'POST', body: payload });
      expect(response.statusCode).toBe(200);
      expect(JSON.parse(await response.body.text())).toMatchObject({ bodyLength: payload.length });
      await eventually(() => recorder.successRate('test', 'podinfo', 'canary', MINUTE) === 0);
    },
    LOAD_TEST_TIMEOUT_MS,
  );

  it('relays answers byte for byte, whether they arrive in one piece or several', async () => {
    const everyByte = Buffer.from(Array.from({ length: 256 }, (_, byte) => byte));
    const large = Buffer.alloc(200 * 1024, everyByte);
    const source = await startRawUpstream('pieces', (req, res) => {
      if (req.url === '/small')
        res.end(everyByte); // one read: head and body written together
      else if (req.url === '/large') res.end(large);
      else {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(everyByte.subarray(0, 100));
        setTimeout(() => res.end(everyByte.subarray(100)), 50);
      }
    });
    cleanup(() => source.close());
    const { pool } = await startRouter({ primary: [source.url] });
    const bytes = async (path: string) => {
      const response = await pool.request({ path, method: 'GET' });
      return Buffer.from(await response.body.arrayBuffer());
    };
    expect((await bytes('/small')).equals(everyByte)).toBe(true);
    expect((await bytes('/pieces')).equals(everyByte)).toBe(true);
    expect(sha256(await bytes('/large'))).toBe(sha256(large));
  });

  it('drops hop-by-hop headers both ways, adds X-Forwarded-*, keeps the rest', async () => {
    const echo = await upstream('echo', (_req, res) => {
      res.writeHead(201, 'Made It', {
        connection: 'x-upstream-hop',
        'x-upstream-hop': 'secret',
        'x-custom': 'kept',
        'set-cookie': ['a=1', 'b=2'],
      });
      res.end('done');
    });
    const { router } = await startRouter({ primary: [echo.url] });
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      httpGet(
        `${router.url}/hop?q=1`,
        {
          agent: false,
          headers: {
            host: 'shop.example.test',
            connection: 'close, x-client-hop',
            'x-client-hop': 'secret',
            'keep-alive': 'timeout=5',
            'proxy-connection': 'keep-alive',
            'proxy-authorization': 'Basic Zm9vOmJhcg==',
            te: 'trailers',
            'x-forwarded-for': '10.0.0.1',
            'x-end-to-end': 'kept',
          },
        },
        resolve,
      ).on('error', reject);
    });
    response.resume();

    const seen = echo.received[0]!.headers;
    for (const name of ['x-client-hop', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te']) {
      expect(seen[name], name).toBeUndefined();
    }
    expect(seen.connection).not.toContain('x-client-hop');
    expect(seen).toMatchObject({
      host: 'shop.example.test',
      'x-end-to-end': 'kept',
      'x-forwarded-for': '10.0.0.1, 127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'shop.example.test',
    });
    expect(echo.received[0]!.url).toBe('/hop?q=1');
    expect(response.statusCode).toBe(201);
    expect(response.statusMessage).toBe('Made It');
    expect(response.headers['x-upstream-hop']).toBeUndefined();
    expect(response.headers).toMatchObject({
      'x-custom': 'kept',
      'set-cookie': ['a=1', 'b=2'],
      [BACKEND_HEADER]: 'primary',
    });
  });
});

describe('ProxyRouter close', () => {
  it('lets requests in flight finish, then refuses connections; closing twice is fine', async () => {
    const held = await heldUpstream('held');
    const recorder = new TrafficRecorder({ registry: new Registry() });
    const router = await ProxyRouter.start(newTestRoute({ primary: [held.upstream.url] }), { recorder });
    const inFlight = request(`${router.url}/slow`);
    await eventually(() => held.arrived.length === 1);

    const closing = router.close();
    expect(router.close()).toBe(closing);
    held.release();
    const response = await inFlight;
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toBe('held');
    await closing;
    await expect(request(router.url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(() => router.configure(newTestRoute())).toThrow(/is closed/);
  });
});
