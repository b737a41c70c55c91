/**
 * Local mode's real-nginx router against Debian's nginx: two tiny services on loopback answer
 * their arm's name, and the tests check what a client sees (bodies, x-vireo-backend, cookies),
 * what the services receive (mirror copies), and what nginx logged.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { Agent, createServer, request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAccessLog } from '../../src/platforms/local/routing/nginx/nginx-access-log.js';
import { NginxError, NginxRouter } from '../../src/platforms/local/routing/nginx/nginx.js';
import type { LocalRoute } from '../../src/platforms/local/routing/route.js';

// ---------------------------------------------------------------------------------------------
// Services, clients and cleanup.

interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface ArmServer {
  readonly url: string;
  readonly port: number;
  readonly received: Received[];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A service replica that answers its name and records what it received. */
async function armServer(name: string): Promise<ArmServer> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      res.setHeader('content-type', 'text/plain');
      res.end(name);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, received };
}

async function startRouter(routes: LocalRoute[]): Promise<NginxRouter> {
  const directory = await mkdtemp(join(tmpdir(), 'vireo-nginx-'));
  // Registered first: a start that throws must not leave the directory behind.
  cleanups.push(() => rm(directory, { recursive: true, force: true }));
  const router = await NginxRouter.start(routes, { directory });
  cleanups.push(() => router.stop());
  return router;
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface SendOptions {
  readonly path?: string;
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: string;
  /** false (default): a new connection per request. */
  readonly agent?: Agent | false;
}

/** The error of a request, and whether it went out on a reused keep-alive connection. */
class SendError extends Error {
  constructor(
    readonly code: string,
    readonly reusedSocket: boolean,
  ) {
    super(code);
  }
}

/**
 * Requests each socket has carried. `req.reusedSocket` alone misses reuse: Node sets it only when
 * a request takes a socket from the free pool, not when a queued request gets a socket just freed.
 */
const socketUses = new WeakMap<object, number>();

function send(port: number, options: SendOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let reused = false;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: options.agent ?? false,
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', (error: NodeJS.ErrnoException) =>
          reject(new SendError(error.code ?? error.message, reused)),
        );
      },
    );
    req.on('socket', (socket) => {
      const uses = (socketUses.get(socket) ?? 0) + 1;
      socketUses.set(socket, uses);
      reused = req.reusedSocket || uses > 1;
    });
    req.on('error', (error: NodeJS.ErrnoException) =>
      reject(new SendError(error.code ?? error.message, reused)),
    );
    req.end(options.body);
  });
}

/** `count` requests, `concurrency` at a time, over a keep-alive pool. */
async function sendMany(
  port: number,
  count: number,
  concurrency = 16,
  options: SendOptions = {},
): Promise<Reply[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const replies: Reply[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next += 1;
      replies.push(await send(port, { agent, ...options }));
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return replies;
}

function newRoute(
  primary: ArmServer[],
  canary: ArmServer[],
  overrides: Partial<LocalRoute> = {},
): LocalRoute {
  return {
    namespace: 'test',
    service: 'podinfo',
    listen: { host: '127.0.0.1', port: 0 },
    primary: primary.map((s) => s.url),
    canary: canary.map((s) => s.url),
    canaryWeight: 0,
    mirror: false,
    match: [],
    ...overrides,
  };
}

function portOf(router: NginxRouter, service = 'podinfo'): number {
  return router.address('test', service).port;
}

async function eventually<T>(read: () => Promise<T> | T, accept: (value: T) => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function readAccessLog(router: NginxRouter) {
  return parseAccessLog(await readFile(router.paths.accessLog, 'utf8').catch(() => ''));
}

// ---------------------------------------------------------------------------------------------

describe('NginxRouter: lifecycle', () => {
  it('starts on a chosen free port, serves, and stop leaves no nginx process behind', async () => {
    const primary = await armServer('primary');
    const router = await startRouter([newRoute([primary], [])]);
    const port = portOf(router);
    expect(port).toBeGreaterThan(0);
    expect(router.routes[0]!.listen.port).toBe(port);
    const reply = await send(port);
    expect(reply).toMatchObject({ status: 200, body: 'primary' });
    expect(reply.headers['x-vireo-backend']).toBe('primary');
    expect(reply.headers['x-vireo-config']).toBe('1');

    const workers = await router.workerPids();
    expect(workers.length).toBeGreaterThan(0);
    const pids = [router.pid, ...workers];
    expect(pids.every(isAlive)).toBe(true);
    await router.stop();
    expect(pids.filter(isAlive)).toEqual([]);
    expect(router.running).toBe(false);
    await router.stop(); // idempotent
    await expect(send(port)).rejects.toThrow();
  });

  it('says nginx is gone when its master died, and stop ends the orphaned workers', async () => {
    const primary = await armServer('primary');
    const router = await startRouter([newRoute([primary], [])]);
    const workers = await router.workerPids();
    process.kill(router.pid, 'SIGKILL');
    await eventually(
      () => router.running,
      (running) => !running,
    );
    const error = await router.configure([newRoute([primary], [])]).catch((e: unknown) => e);
    expect((error as NginxError).code).toBe('E_NGINX_NOT_RUNNING');
    await router.stop();
    expect(
      await eventually(
        () => workers.filter(isAlive),
        (alive) => alive.length === 0,
      ),
    ).toEqual([]);
  });

  it('takes over the directory of an nginx a previous run left behind', async () => {
    const primary = await armServer('primary');
    const directory = await mkdtemp(join(tmpdir(), 'vireo-nginx-'));
    const first = await NginxRouter.start([newRoute([primary], [])], { directory });
    const second = await NginxRouter.start([newRoute([primary], [])], { directory });
    cleanups.push(async () => {
      await first.stop();
      await second.stop();
      await rm(directory, { recursive: true, force: true });
    });
    expect(isAlive(first.pid)).toBe(false);
    expect((await send(portOf(second))).body).toBe('primary');
  });

  it('keeps a port-0 route’s port across reconfigurations', async () => {
    const primary = await armServer('primary');
    const router = await startRouter([newRoute([primary], [])]);
    const port = portOf(router);
    await router.configure([newRoute([primary], [], { canaryWeight: 10 })]);
    expect(portOf(router)).toBe(port);
    expect(router.generation).toBe(2);
  });

  it('serves the generation and stub_status on the loopback admin server', async () => {
    const primary = await armServer('primary');
    const router = await startRouter([newRoute([primary], [])]);
    const generation = await fetch(`${router.adminUrl}/vireo/generation`);
    expect(await generation.text()).toBe('1\n');
    if (router.build.stubStatus) {
      const status = await fetch(`${router.adminUrl}/nginx_status`);
      expect(await status.text()).toContain('Active connections');
    }
    expect(new URL(router.adminUrl).hostname).toBe('127.0.0.1');
  });

  it('names the missing binary and what to install', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'vireo-nginx-'));
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const error = await NginxRouter.start([], { directory, binary: 'nginx-that-does-not-exist' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NginxError);
    expect((error as NginxError).code).toBe('E_NGINX_MISSING');
    expect((error as NginxError).message).toContain('apt-get install nginx');
  });

  it('fails to start with nginx’s own words when the port is taken, and leaves nothing running', async () => {
    const taken = await armServer('squatter');
    const directory = await mkdtemp(join(tmpdir(), 'vireo-nginx-'));
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const route = newRoute([taken], [], { listen: { host: '127.0.0.1', port: taken.port } });
    const error = await NginxRouter.start([route], { directory }).catch((e: unknown) => e);
    expect((error as NginxError).code).toBe('E_NGINX_START');
    expect((error as NginxError).message).toContain('Address already in use');
    const processes = await readdir('/proc');
    const ours = await Promise.all(
      processes
        .filter((p) => /^\d+$/.test(p))
        .map((p) => readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')),
    );
    expect(ours.filter((cmd) => cmd.includes(directory))).toEqual([]);
  });
});

describe('NginxRouter: weighted split', () => {
  it('serves weight 30 as 30% ± 4 points over 2000 requests, as the access log confirms', async () => {
    // split_clients hashes $request_id (16 random bytes), so each request is an independent
    // draw: the canary count is Binomial(2000, 0.3), SD = sqrt(2000·0.3·0.7) ≈ 20.5 requests =
    // 1.02 points. ±4 points is ±3.9 SD: a correct router fails this about once in 10,000 runs,
    // while a weight off by 5 points or more fails it almost always.
    const primary = await armServer('primary');
    const canary = await armServer('canary');
    const router = await startRouter([newRoute([primary], [canary], { canaryWeight: 30 })]);
    const replies = await sendMany(portOf(router), 2000);
    expect(replies.every((r) => r.status === 200 && r.headers['x-vireo-backend'] === r.body)).toBe(true);
    const canaryCount = replies.filter((r) => r.body === 'canary').length;
    expect(Math.abs(canaryCount / 2000 - 0.3)).toBeLessThanOrEqual(0.04);

    const log = await eventually(
      () => readAccessLog(router),
      (summary) => {
        const arms = summary.routes['test/podinfo'];
        return arms !== undefined && arms.primary.requests + arms.canary.requests === 2000;
      },
    );
    expect(log.malformed).toBe(0);
    expect(log.routes['test/podinfo']!.canary).toMatchObject({
      requests: canaryCount,
      byStatus: { 200: canaryCount },
    });
    expect(log.routes['test/podinfo']!.primary).toMatchObject({
      requests: 2000 - canaryCount,
      byStatus: { 200: 2000 - canaryCount },
    });
    expect(primary.received.length + canary.received.length).toBe(2000);
  });

  it('never sends to the canary at weight 0, and always at 100', async () => {
    const primary = await armServer('primary');
    const canary = await armServer('canary');
    const router = await startRouter([newRoute([primary], [canary], { canaryWeight: 0 })]);
    expect(new Set((await sendMany(portOf(router), 300)).map((r) => r.body))).toEqual(new Set(['primary']));
    await router.configure([newRoute([primary], [canary], { canaryWeight: 100 })]);
    expect(new Set((await sendMany(portOf(router), 300)).map((r) => r.body))).toEqual(new Set(['canary']));
  });

  it('spreads an arm’s requests over its replicas', async () => {
    const replicas = [await armServer('primary'), await armServer('primary')];
    const router = await startRouter([newRoute(replicas, [])]);
    await sendMany(portOf(router), 100);
    expect(replicas.map((r) => r.received.length > 20)).toEqual([true, true]);
  });

  it('routes to the other arm when one is empty, and answers 503 when both are', async () => {
    const primary = await armServer('primary');
    const canary = await armServer('canary');
    const router = await startRouter([
      newRoute([primary], [], { canaryWeight: 50 }),
      newRoute([], [canary], { service: 'only-canary', canaryWeight: 0 }),
      newRoute([], [], { service: 'nothing' }),
    ]);
    expect(new Set((await sendMany(portOf(router), 50)).map((r) => r.body))).toEqual(new Set(['primary']));
    expect(new Set((await sendMany(portOf(router, 'only-canary'), 50)).map((r) => r.body))).toEqual(
      new Set(['canary']),
    );
    const empty = await send(portOf(router, 'nothing'));
    expect(empty).toMatchObject({ status: 503, body: 'no replicas of test/nothing are running\n' });
  });

  it('answers 502 when the arm’s replica is down, and logs it against that arm', async () => {
    const primary = await armServer('primary');
    const router = await startRouter([
      newRoute([primary], [], { canary: ['http://127.0.0.1:1'], canaryWeight: 100 }),
    ]);
    const reply = await send(portOf(router));
    expect(reply.status).toBe(502);
    expect(reply.headers['x-vireo-backend']).toBe('canary');
    const log = await eventually(
      () => readAccessLog(router),
      (s) => (s.routes['test/podinfo']?.canary.requests ?? 0) === 1,
    );
    expect(log.routes['test/podinfo']!.canary.byStatus).toEqual({ 502: 1 });
  });
});

describe('NginxRouter: A/B matching', () => {
  const HOSTILE = 'a"; } server { listen 80; } # $host \\';

  it('sends matching requests to the canary whatever the weight, and others by weight', async () => {
    const primary = await armServer('primary');
    const canary = await armServer('canary');
    const router = await startRouter([
      newRoute([primary], [canary], {
        canaryWeight: 0,
        match: [
          { headers: { 'x-canary': { exact: 'insider' } } },
          { headers: { 'x-user': { regex: 'user-[0-9]+' } } },
          { headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } },
          { queryParams: { beta: { exact: 'yes' } } },
          { headers: { 'x-hostile': { exact: HOSTILE } } },
          { headers: { 'x-a': { exact: '1' }, 'x-b': { prefix: '2' } } },
        ],
      }),
    ]);
    const port = portOf(router);
    const arm = async (options: SendOptions): Promise<string> => (await send(port, options)).body;
    const cases: [SendOptions, string][] = [
      [{ headers: { 'x-canary': 'insider' } }, 'canary'],
      [{ headers: { 'x-canary': 'insider2' } }, 'primary'],
      [{ headers: { 'x-canary': 'Insider' } }, 'primary'],
      [{ headers: { 'x-user': 'user-42' } }, 'canary'],
      [{ headers: { 'x-user': 'user-42x' } }, 'primary'],
      [{ headers: { cookie: 'canary=always' } }, 'canary'],
      [{ headers: { cookie: 'theme=dark;canary=always' } }, 'canary'],
      [{ headers: { cookie: 'canary=never' } }, 'primary'],
      [{ path: '/?beta=yes' }, 'canary'],
      [{ path: '/?x=1&beta=yes' }, 'canary'],
      [{ path: '/?beta=no' }, 'primary'],
      [{ headers: { 'x-hostile': HOSTILE } }, 'canary'],
      [{ headers: { 'x-hostile': 'a' } }, 'primary'],
      [{ headers: { 'x-a': '1', 'x-b': '2x' } }, 'canary'],
      [{ headers: { 'x-a': '1' } }, 'primary'],
      [{ headers: { 'x-b': '2' } }, 'primary'],
      [{}, 'primary'],
    ];
    const seen: [SendOptions, string][] = [];
    for (const [options] of cases) seen.push([options, await arm(options)]);
    expect(seen).toEqual(cases);
  });

  it('matches a query parameter by presence', async () => {
    const primary = await armServer('primary');
    const canary = await armServer('canary');
    const router = await startRouter([
      newRoute([primary], [canary], { match: [{ queryParams: { preview: {} } }] }),
    ]);
    expect((await send(portOf(router), { path: '/?preview' })).body).toBe('canary');
    expect((await send(portOf(router), { path: '/?a=1&preview=1' })).body).toBe('canary');
    expect((await send(portOf(router), { path: '/?previewer=1' })).body).toBe('primary');
  });
});

describe('NginxRouter: session affinity', () => {
  const affinity = {
    cookieName: 'flagger-cookie',
    canaryValue: 'abcdefghij',
    primaryCookieName: 'flagger-primary',
    primaryValue: 'zyxwvutsrq',
    previousValue: 'oldoldold',
    maxAgeSeconds: 86400,
    primaryMaxAgeSeconds: 60,
    path: '/',
  };

  it('sets the arm’s cookie on weighted answers, and pins clients that send it back', async () => {
    const primary = await armServer('primary');
    const canary = await armServer('canary');
    const router = await startRouter([
      newRoute([primary], [canary], { canaryWeight: 50, sessionAffinity: affinity }),
    ]);
    const port = portOf(router);

    const replies = await sendMany(port, 100);
    const cookies = new Set(replies.map((r) => `${r.body} ${String(r.headers['set-cookie'])}`));
    expect(cookies).toEqual(
      new Set([
        'canary flagger-cookie=abcdefghij; Max-Age=86400; Path=/',
        'primary flagger-primary=zyxwvutsrq; Max-Age=60; Path=/',
      ]),
    );

    // A browser sends back the cookie it got: it stays on that arm, and gets no new cookie.
    for (const [cookie, arm] of [
      ['flagger-cookie=abcdefghij', 'canary'],
      ['theme=dark; flagger-cookie=abcdefghij', 'canary'],
      ['flagger-primary=zyxwvutsrq', 'primary'],
    ]) {
      const pinned = await sendMany(port, 30, 4, { headers: { cookie } });
      expect(new Set(pinned.map((r) => r.body))).toEqual(new Set([arm]));
      expect(pinned.every((r) => r.headers['set-cookie'] === undefined)).toBe(true);
    }
  });

  it('expires the previous run’s cookie', async () => {
    const primary = await armServer('primary');
    const canary = await armServer('canary');
    const router = await startRouter([
      newRoute([primary], [canary], {
        canaryWeight: 0,
        sessionAffinity: {
          ...affinity,
          canaryValue: undefined,
          primaryCookieName: undefined,
          primaryValue: undefined,
        },
      }),
    ]);
    const reply = await send(portOf(router), { headers: { cookie: 'flagger-cookie=oldoldold' } });
    expect(reply.body).toBe('primary');
    expect(reply.headers['set-cookie']).toEqual(['flagger-cookie=oldoldold; Max-Age=-1; Path=/']);
    const other = await send(portOf(router), { headers: { cookie: 'flagger-cookie=newer' } });
    expect(other.headers['set-cookie']).toBeUndefined();
  });
});

describe('NginxRouter: mirroring', () => {
  it('copies primary-answered requests, bodies included, to the canary; the client sees only the primary', async () => {
    const primary = await armServer('primary');
    const canary = await armServer('canary');
    const router = await startRouter([newRoute([primary], [canary], { canaryWeight: 0, mirror: true })]);
    const port = portOf(router);
    const replies: Reply[] = [];
    for (let i = 0; i < 40; i += 1)
      replies.push(await send(port, { method: 'POST', path: `/orders?i=${i}`, body: `order ${i}` }));
    expect(replies.every((r) => r.body === 'primary' && r.headers['x-vireo-backend'] === 'primary')).toBe(
      true,
    );
    await eventually(
      () => canary.received.length,
      (n) => n >= 40,
    );
    const copies = canary.received.map((r) => `${r.method} ${r.path} ${r.body}`).sort();
    const originals = primary.received.map((r) => `${r.method} ${r.path} ${r.body}`).sort();
    expect(copies).toEqual(originals);
    expect(copies).toHaveLength(40);
    // Only client requests are logged, not the mirror copies.
    const log = await eventually(
      () => readAccessLog(router),
      (s) => (s.routes['test/podinfo']?.primary.requests ?? 0) === 40,
    );
    expect(log.routes['test/podinfo']!.canary.requests).toBe(0);
  });

  it('mirrors only mirrorWeight% of the requests, and never those the canary answers', async () => {
    // 400 primary-answered requests at mirrorWeight 50: copies ~ Binomial(400, 0.5), SD = 10;
    // ±50 is ±5 SD. The canary-answered requests (weight 20) must never be copied.
    const primary = await armServer('primary');
    const canary = await armServer('canary');
    const router = await startRouter([
      newRoute([primary], [canary], { canaryWeight: 20, mirror: true, mirrorWeight: 50 }),
    ]);
    const replies = await sendMany(portOf(router), 500, 8, { path: '/' });
    const servedByCanary = replies.filter((r) => r.body === 'canary').length;
    const servedByPrimary = 500 - servedByCanary;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const copies = canary.received.length - servedByCanary;
    expect(Math.abs(copies - servedByPrimary / 2)).toBeLessThanOrEqual(50);
    expect(primary.received.length).toBe(servedByPrimary);
  });
});

describe('NginxRouter: reconfiguration', () => {
  async function reloadUnderLoad(
    router: NginxRouter,
    routes: (i: number) => LocalRoute[],
    keepAlive: boolean,
  ) {
    const port = portOf(router);
    const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: 16 }) : false;
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let retries = 0;
    let running = true;
    const client = async (): Promise<void> => {
      while (running) {
        // RFC 9112 §9.3.1: a client may retry an idempotent request whose reused connection
        // closed before any answer, as Go's net/http (hey) and browsers do.
        for (let attempt = 0; ; attempt += 1) {
          try {
            const reply = await send(port, { agent });
            statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
            break;
          } catch (error) {
            const sendError = error as SendError;
            if (sendError.reusedSocket && attempt < 3) {
              retries += 1;
              continue;
            }
            failures.push(`${sendError.code} (reused connection: ${sendError.reusedSocket})`);
            break;
          }
        }
      }
    };
    const clients = Array.from({ length: 16 }, client);
    const generations: string[] = [];
    try {
      for (let i = 1; i <= 10; i += 1) {
        await router.configure(routes(i));
        // Once configure() resolves, a new connection gets the new config.
        generations.push(String((await send(port)).headers['x-vireo-config']));
      }
    } finally {
      running = false;
      await Promise.all(clients);
      if (agent) agent.destroy();
    }
    return { statuses, failures, retries, generations };
  }

  it('loses no request while configure() runs 10 times under concurrent keep-alive load', async () => {
    const primary = await armServer('primary');
    const canary = await armServer('canary');
    const route = (i: number) => newRoute([primary], [canary], { canaryWeight: 10 * (i % 10) });
    const router = await startRouter([route(0)]);
    const result = await reloadUnderLoad(router, (i) => [route(i)], true);

    expect(result.failures).toEqual([]);
    expect([...result.statuses.keys()]).toEqual([200]);
    expect(result.generations).toEqual(['2', '3', '4', '5', '6', '7', '8', '9', '10', '11']);
    // nginx ≥ keepalive_min_timeout answers requests already sent on idle connections during a
    // reload; older nginx (Debian 12's 1.22) closes those connections, and the client retries.
    if (router.build.keepaliveMinTimeout) expect(result.retries).toBe(0);
    // Every answer the clients got was logged, all 200: nginx failed no request it read.
    const answered = result.statuses.get(200)! + 10;
    const log = await eventually(
      () => readAccessLog(router),
      (s) =>
        (s.routes['test/podinfo']?.primary.requests ?? 0) +
          (s.routes['test/podinfo']?.canary.requests ?? 0) >=
        answered,
    );
    const arms = log.routes['test/podinfo']!;
    expect(arms.primary.requests + arms.canary.requests).toBe(answered);
    expect(Object.keys(arms.primary.byStatus)).toEqual(['200']);
  });

  it('loses no request and needs no retry when clients open a connection per request', async () => {
    const primary = await armServer('primary');
    const canary = await armServer('canary');
    const route = (i: number) => newRoute([primary], [canary], { canaryWeight: 10 * (i % 10) });
    const router = await startRouter([route(0)]);
    const result = await reloadUnderLoad(router, (i) => [route(i)], false);
    expect(result.failures).toEqual([]);
    expect(result.retries).toBe(0);
    expect([...result.statuses.keys()]).toEqual([200]);
  });

  it('keeps serving the old config, with nginx’s message, when nginx rejects the new one', async () => {
    const primary = await armServer('primary');
    const canary = await armServer('canary');
    const router = await startRouter([newRoute([primary], [canary], { canaryWeight: 0 })]);
    const live = await readFile(router.paths.config, 'utf8');
    // Valid for our checks, refused by nginx when it looks the replica up.
    const bad = newRoute([primary], [canary], {
      canaryWeight: 100,
      canary: ['http://no-such-replica.invalid:8080'],
    });
    const error = await router.configure([bad]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NginxError);
    expect((error as NginxError).code).toBe('E_NGINX_CONFIG');
    expect((error as NginxError).message).toMatch(/\[emerg\].*host not found in upstream/);
    expect(router.generation).toBe(1);
    expect(await readFile(router.paths.config, 'utf8')).toBe(live);
    const reply = await send(portOf(router));
    expect(reply).toMatchObject({ body: 'primary' });
    expect(reply.headers['x-vireo-config']).toBe('1');
    // The router still takes good configs afterwards.
    await router.configure([newRoute([primary], [canary], { canaryWeight: 100 })]);
    expect((await send(portOf(router))).body).toBe('canary');
  });

  it('keeps serving the old config when nginx cannot apply a tested one', async () => {
    const primary = await armServer('primary');
    const squatter = await armServer('squatter');
    const router = await startRouter([newRoute([primary], [])]);
    const live = router.config;
    // `nginx -t` does not bind ports; the reload does, and fails.
    const taken = newRoute([primary], [], {
      service: 'other',
      listen: { host: '127.0.0.1', port: squatter.port },
    });
    const error = await router.configure([router.routes[0]!, taken]).catch((e: unknown) => e);
    expect((error as NginxError).code).toBe('E_NGINX_RELOAD');
    expect((error as NginxError).message).toContain('Address already in use');
    expect(router.generation).toBe(1);
    expect(await readFile(router.paths.config, 'utf8')).toBe(live);
    expect((await send(portOf(router))).headers['x-vireo-config']).toBe('1');
    expect(router.running).toBe(true);
  });

  it('waits out nginx’s bind() retries: a port freed meanwhile makes the reload succeed', async () => {
    const primary = await armServer('primary');
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as AddressInfo).port;
    const router = await startRouter([newRoute([primary], [])]);
    const other = newRoute([primary], [], { service: 'other', listen: { host: '127.0.0.1', port } });
    const configured = router.configure([router.routes[0]!, other]);
    // nginx retries bind() every 500 ms for about 2.5 s.
    setTimeout(() => squatter.close(), 700);
    await configured;
    expect(router.generation).toBe(2);
    expect((await send(port)).body).toBe('primary');
  });

  it('refuses a route it cannot express before touching nginx', async () => {
    const primary = await armServer('primary');
    const router = await startRouter([newRoute([primary], [])]);
    const error = await router
      .configure([newRoute([primary], [], { match: [{ headers: { x_user: { exact: 'a' } } }] })])
      .catch((e: unknown) => e);
    expect((error as NginxError).code).toBe('E_INVALID_ROUTE');
    expect(router.generation).toBe(1);
  });
});
