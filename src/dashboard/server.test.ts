/**
 * The dashboard's server over real HTTP on loopback, with an in-process operations backend (a
 * real implementation of the port over memory, with a watch), a real CanaryActions written for
 * these tests, and in-process Kubernetes reviews (a table of tokens and RBAC rules).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Decision } from '../engine/decisions.js';
import {
  CanaryNotFoundError,
  type ActionReceipt,
  type ActionRequest,
  type CanaryActions,
  type CanaryChange,
  type CanaryObject,
  type CanaryScope,
  type OperationsBackend,
  type Revisions,
} from '../cli/ops/port.js';
import { canaryRows } from '../cli/ops/printer.js';
import { formatStatus } from '../cli/ops/status.js';
import { DashboardAuth, type KubernetesReviews, type Permission, type Principal } from './auth.js';
import { CanaryFeed } from './events.js';
import { LoadtesterGates } from './gates.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDashboardServer, type DashboardServer } from './server.js';

const TOKEN = 'test-dashboard-token-0123456789';

function canary(namespace: string, name: string, status: Record<string, unknown> = {}): CanaryObject {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name, namespace, resourceVersion: '1' },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      service: { port: 80 },
      analysis: {
        interval: '1m',
        threshold: 2,
        stepWeight: 20,
        maxWeight: 60,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '1m' }],
        webhooks: [
          {
            name: 'gate',
            type: 'confirm-promotion',
            url: 'http://user:secret@loadtester.test:8080/gate/check',
          },
        ],
      },
    },
    status: {
      phase: 'Progressing',
      canaryWeight: 40,
      failedChecks: 1,
      iterations: 3,
      lastTransitionTime: '2026-12-07T00:00:00Z',
      ...status,
    },
  } as unknown as CanaryObject;
}

function decision(
  time: string,
  weight: number,
  value: number,
  action: Decision['action'] = 'advance',
): Decision {
  return {
    time,
    canary: 'web.shop',
    action,
    phase: 'Progressing',
    message:
      action === 'halt'
        ? `Halt web.shop advancement success rate ${value}% < 99%`
        : 'Advance web.shop canary weight',
    canaryWeight: weight,
    primaryWeight: 100 - weight,
    iteration: 1,
    failedChecks: action === 'halt' ? 1 : 0,
    threshold: 2,
    checks: [
      {
        check: 'request-success-rate',
        verdict: value < 99 ? 'fail' : 'pass',
        value,
        unit: '%',
        threshold: { min: 99 },
        message: '',
        evidence: { requests: 1200 },
      },
    ],
    next: 'next step in 1m',
  };
}

/** The operations port over memory; `set` changes a canary and tells the watchers. */
class MemoryBackend implements OperationsBackend {
  readonly where = 'memory';
  readonly defaultNamespace = 'default';
  readonly canaries = new Map<string, CanaryObject>();
  readonly history = new Map<string, Decision[]>();
  watches = 0;
  lists = 0;
  private readonly watchers = new Set<(change: CanaryChange, canary: CanaryObject) => void>();

  set(object: CanaryObject, decisions?: Decision[]): void {
    const key = `${object.metadata.namespace}/${object.metadata.name}`;
    const change: CanaryChange = this.canaries.has(key) ? 'MODIFIED' : 'ADDED';
    const version = String(Number(this.canaries.get(key)?.metadata.resourceVersion ?? '0') + 1);
    const stored = { ...object, metadata: { ...object.metadata, resourceVersion: version } };
    this.canaries.set(key, stored);
    if (decisions !== undefined) this.history.set(key, decisions);
    for (const watcher of this.watchers) watcher(change, stored);
  }
  list(scope: CanaryScope): Promise<CanaryObject[]> {
    this.lists += 1;
    return Promise.resolve(
      [...this.canaries.values()].filter(
        (c) => scope.allNamespaces || c.metadata.namespace === scope.namespace,
      ),
    );
  }
  get(namespace: string, name: string): Promise<CanaryObject> {
    const found = this.canaries.get(`${namespace}/${name}`);
    return found === undefined
      ? Promise.reject(new CanaryNotFoundError(namespace, name, this.where))
      : Promise.resolve(found);
  }
  decisions(namespace: string, name: string): Promise<Decision[]> {
    return Promise.resolve(this.history.get(`${namespace}/${name}`) ?? []);
  }
  revisions(): Promise<Revisions> {
    return Promise.resolve({ primary: 'web:1.0.0', canary: 'web:2.0.0' });
  }
  watch(
    _scope: CanaryScope,
    onChange: (change: CanaryChange, canary: CanaryObject) => void,
    signal: AbortSignal,
  ): Promise<void> {
    this.watches += 1;
    this.watchers.add(onChange);
    return new Promise((resolve) =>
      signal.addEventListener('abort', () => {
        this.watchers.delete(onChange);
        resolve();
      }),
    );
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A real CanaryActions over the memory backend, written for these tests: pause writes spec.suspend. */
class MemoryActions implements CanaryActions {
  readonly requests: { namespace: string; name: string; request: ActionRequest }[] = [];
  constructor(private readonly backend: MemoryBackend) {}
  async act(namespace: string, name: string, request: ActionRequest): Promise<ActionReceipt> {
    const current = await this.backend.get(namespace, name);
    this.requests.push({ namespace, name, request });
    if (request.action === 'pause' || request.action === 'resume')
      this.backend.set({ ...current, spec: { ...current.spec, suspend: request.action === 'pause' } });
    return {
      id: String(this.requests.length),
      action: request.action,
      by: request.by ?? 'nobody',
      reason: request.reason,
      at: new Date().toISOString(),
      wrote: request.action === 'pause' ? 'spec.suspend: true' : 'annotation vireo.dev/request',
    };
  }
}

/** Tokens and RBAC rules in memory: alice may read and patch canaries in shop; bob only reads canaries in shop. */
class MemoryReviews implements KubernetesReviews {
  tokenReviews = 0;
  accessReviews = 0;
  readonly users: Record<string, { name: string; rules: string[] }> = {
    'alice-kube-token': {
      name: 'alice',
      rules: [
        'list canaries shop',
        'get canaries shop',
        'patch canaries shop',
        'get configmaps shop',
        'get deployments shop',
      ],
    },
    'bob-kube-token': { name: 'bob', rules: ['list canaries shop', 'get canaries shop'] },
  };
  tokenReview(token: string): Promise<Principal | undefined> {
    this.tokenReviews += 1;
    const user = this.users[token];
    return Promise.resolve(
      user === undefined
        ? undefined
        : { name: user.name, kind: 'kubernetes', groups: ['system:authenticated'] },
    );
  }
  subjectAccessReview(principal: Principal, permission: Permission): Promise<boolean> {
    this.accessReviews += 1;
    const user = Object.values(this.users).find((candidate) => candidate.name === principal.name);
    return Promise.resolve(
      user?.rules.includes(`${permission.verb} ${permission.resource} ${permission.namespace ?? '*'}`) ===
        true,
    );
  }
}

let servers: { server: DashboardServer; feed: CanaryFeed }[] = [];
afterEach(async () => {
  for (const { server, feed } of servers) {
    await server.close();
    await feed.stop();
  }
  servers = [];
});

async function start(
  options: { token?: string; reviews?: MemoryReviews; host?: string; loadtester?: string } = {},
) {
  const backend = new MemoryBackend();
  const web = canary('shop', 'web');
  if (options.loadtester !== undefined)
    (web.spec.analysis.webhooks as { url: string }[])[0]!.url = `${options.loadtester}/gate/check`;
  backend.set(web, [
    decision('2026-12-07T00:01:00Z', 20, 99.5),
    decision('2026-12-07T00:02:00Z', 40, 97.25, 'halt'),
  ]);
  backend.set(canary('billing', 'api', { phase: 'Succeeded', canaryWeight: 0 }));
  const actions = new MemoryActions(backend);
  const reviews = options.reviews ?? new MemoryReviews();
  const feed = new CanaryFeed(backend, { warn: () => undefined }, 10);
  const server = await startDashboardServer({
    host: options.host ?? '127.0.0.1',
    port: 0,
    backend,
    feed,
    auth: new DashboardAuth({ token: 'token' in options ? options.token : TOKEN, kubernetes: reviews }),
    actions,
    gates: new LoadtesterGates(undefined),
    mode: 'test',
    now: () => new Date('2026-12-07T00:05:00Z'),
  });
  feed.start();
  await feed.ready;
  servers.push({ server, feed });
  const call = (path: string, init: RequestInit & { token?: string } = {}) =>
    fetch(new URL(path, server.url), {
      ...init,
      headers: {
        ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }),
        ...(init.headers as Record<string, string> | undefined),
      },
    });
  return { backend, actions, reviews, server, feed, call };
}

async function csrfOf(
  call: (path: string, init?: RequestInit & { token?: string }) => Promise<Response>,
  token: string,
): Promise<string> {
  return ((await (await call('/api/session', { token })).json()) as { csrfToken: string }).csrfToken;
}

describe('the dashboard server', () => {
  it('answers 401 to every API route without credentials or with an unknown token, and names the scheme', async () => {
    const { call } = await start();
    for (const path of [
      '/api/canaries',
      '/api/canaries/shop/web',
      '/api/canaries/shop/web/decisions',
      '/api/health',
      '/api/session',
      '/api/events',
    ]) {
      const bare = await call(path);
      expect(bare.status, path).toBe(401);
      expect(bare.headers.get('www-authenticate')).toBe('Bearer realm="vireo-dashboard"');
      expect(((await bare.json()) as { code: string }).code).toBe('E_DASHBOARD_UNAUTHENTICATED');
      expect((await call(path, { token: 'wrong-token-0123456789' })).status, path).toBe(401);
    }
    const action = await call('/api/canaries/shop/web/actions', {
      method: 'POST',
      body: '{"action":"pause","reason":"x"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(action.status).toBe(401);
  });

  it('sends the security headers on pages and API answers, with a CSP that allows no inline script, and a page with no data in it', async () => {
    const { call } = await start();
    for (const response of [
      await call('/'),
      await call('/api/canaries', { token: TOKEN }),
      await call('/assets/app.css'),
    ]) {
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    }
    const html = await (await call('/canaries/shop/web')).text();
    expect(html).toMatch(/<script type="module" src="\/assets\/app\.js"><\/script>/);
    expect(html).not.toMatch(/<script>|<script [^>]*>[^<]/);
    expect(html).not.toContain('web');
  });

  it('refuses a Host that is not a loopback name when bound to loopback (DNS rebinding)', async () => {
    const { server } = await start();
    const { request } = await import('undici');
    const answer = await request(server.url, { headers: { host: 'attacker.example:80' } });
    expect(answer.statusCode).toBe(421);
    await answer.body.dump();
  });

  it('will not start beyond loopback without a way to authenticate', async () => {
    const backend = new MemoryBackend();
    await expect(
      startDashboardServer({
        host: '0.0.0.0',
        port: 0,
        backend,
        feed: new CanaryFeed(backend, { warn: () => undefined }),
        auth: new DashboardAuth({ token: undefined, kubernetes: undefined }),
        actions: undefined,
        gates: undefined,
        mode: 'test',
      }),
    ).rejects.toMatchObject({ code: 'E_DASHBOARD_UNPROTECTED', message: expect.stringMatching(/--token/) });
  });

  it('lists the canaries with the cells vireo get prints, their progress and last decision', async () => {
    const { call, backend } = await start();
    const body = (await (await call('/api/canaries', { token: TOKEN })).json()) as {
      items: Record<string, any>[];
    };
    expect(body.items.map((row) => `${row['namespace']}/${row['name']}`)).toEqual([
      'billing/api',
      'shop/web',
    ]);
    const web = body.items[1]!;
    const table = canaryRows(
      [...backend.canaries.values()].filter((c) => c.metadata.name === 'web'),
      { wide: true, allNamespaces: false },
    );
    const [header, cells] = table as [string[], string[]];
    for (const [index, column] of header.entries())
      if (column !== 'NAME')
        expect(web['columns'][Object.keys(web['columns'])[index - 1]!]).toBe(cells[index]);
    expect(web).toMatchObject({
      phase: 'Progressing',
      weight: 40,
      progress: { step: 2, steps: 3 },
      failedChecks: 1,
      threshold: 2,
    });
    expect(web['lastDecision']).toMatchObject({
      action: 'halt',
      message: 'Halt web.shop advancement success rate 97.25% < 99%',
    });
  });

  it("gives a canary's page the chart series, the checks against their thresholds with the sample, and vireo status's text; no webhook secret", async () => {
    const { call, backend } = await start();
    const response = await call('/api/canaries/shop/web', { token: TOKEN });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain('secret');
    const detail = JSON.parse(text) as Record<string, any>;
    expect(detail['weights'].map((point: any) => point.weight)).toEqual([20, 40]);
    expect(detail['checks']['request-success-rate'].at(-1)).toMatchObject({
      value: 97.25,
      min: 99,
      verdict: 'fail',
    });
    expect(detail['checks']['request-success-rate'].at(-1).text).toBe(
      'request-success-rate 97.25% < 99 (min 99) failed [requests 1200]',
    );
    expect(detail['gates']).toEqual([
      expect.objectContaining({
        name: 'gate',
        type: 'confirm-promotion',
        loadtester: 'http://loadtester.test:8080',
      }),
    ]);
    const canaryObject = backend.canaries.get('shop/web')!;
    expect(detail['statusText']).toBe(
      formatStatus(
        {
          canary: canaryObject,
          decisions: backend.history.get('shop/web')!,
          revisions: { primary: 'web:1.0.0', canary: 'web:2.0.0' },
        },
        new Date('2026-12-07T00:05:00Z'),
      ),
    );
    expect((await call('/api/canaries/shop/nope', { token: TOKEN })).status).toBe(404);
    expect((await call('/api/canaries?token=abc', { token: TOKEN })).status).toBe(400);
  });

  it('shows a Kubernetes user only the namespaces their RBAC allows, and a refusal names the missing permission', async () => {
    const { call, reviews } = await start();
    const alice = (await (await call('/api/canaries', { token: 'alice-kube-token' })).json()) as {
      items: { name: string }[];
    };
    expect(alice.items.map((row) => row.name)).toEqual(['web']);
    const refused = await call('/api/canaries/billing/api', { token: 'alice-kube-token' });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({
      code: 'E_DASHBOARD_FORBIDDEN',
      permission: 'get canaries.flagger.app in namespace billing',
    });
    // Bob may read canaries but not their decisions: the page says so instead of failing.
    const bob = (await (await call('/api/canaries/shop/web', { token: 'bob-kube-token' })).json()) as Record<
      string,
      any
    >;
    expect(bob['decisionsNote']).toBe('bob may not get configmaps in namespace shop');
    expect(bob['timeline']).toEqual([]);
    // Reviews are cached: a second read asks the API server nothing new.
    const before = { token: reviews.tokenReviews, access: reviews.accessReviews };
    await call('/api/canaries/shop/web', { token: 'bob-kube-token' });
    expect({ token: reviews.tokenReviews, access: reviews.accessReviews }).toEqual(before);
  });

  it('takes an action only with the CSRF token of the same credential, from the same origin, with a reason, and within RBAC', async () => {
    const { call, actions, backend, server } = await start();
    const post = (token: string, body: object, headers: Record<string, string>) =>
      call('/api/canaries/shop/web/actions', {
        method: 'POST',
        token,
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...headers },
      });
    const aliceCsrf = await csrfOf(call, 'alice-kube-token');
    const bobCsrf = await csrfOf(call, 'bob-kube-token');

    const noCsrf = await post('alice-kube-token', { action: 'pause', reason: 'x' }, {});
    expect(noCsrf.status).toBe(403);
    expect(((await noCsrf.json()) as { code: string }).code).toBe('E_DASHBOARD_CSRF');
    expect(
      (await post('alice-kube-token', { action: 'pause', reason: 'x' }, { 'x-vireo-csrf': bobCsrf })).status,
    ).toBe(403);
    const crossSite = await post(
      'alice-kube-token',
      { action: 'pause', reason: 'x' },
      { 'x-vireo-csrf': aliceCsrf, origin: 'https://attacker.example' },
    );
    expect(crossSite.status).toBe(403);
    const noReason = await post(
      'alice-kube-token',
      { action: 'pause', reason: ' ' },
      { 'x-vireo-csrf': aliceCsrf },
    );
    expect(noReason.status).toBe(400);
    expect(await noReason.text()).toMatch(/reason/);
    expect(
      (await post('alice-kube-token', { action: 'delete', reason: 'x' }, { 'x-vireo-csrf': aliceCsrf }))
        .status,
    ).toBe(400);
    const bob = await post('bob-kube-token', { action: 'pause', reason: 'x' }, { 'x-vireo-csrf': bobCsrf });
    expect(bob.status).toBe(403);
    expect(await bob.json()).toMatchObject({ permission: 'patch canaries.flagger.app in namespace shop' });
    expect(actions.requests).toEqual([]);

    const origin = new URL(server.url).origin;
    const done = await post(
      'alice-kube-token',
      { action: 'pause', reason: 'errors in eu-west' },
      { 'x-vireo-csrf': aliceCsrf, origin },
    );
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({
      action: 'pause',
      by: 'alice',
      reason: 'errors in eu-west',
      wrote: 'spec.suspend: true',
    });
    expect(backend.canaries.get('shop/web')?.spec.suspend).toBe(true);
  });

  it('streams changes to every page from one watch, and asks the backend nothing per page', async () => {
    const { call, backend } = await start();
    const readers = await Promise.all(
      [1, 2, 3].map(async () => {
        const response = await call('/api/events', { token: TOKEN });
        expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
        return response.body!.pipeThrough(new TextDecoderStream()).getReader();
      }),
    );
    const listsBefore = backend.lists;
    backend.set(canary('shop', 'web', { canaryWeight: 60 }));
    for (const reader of readers) {
      let text = '';
      while (!text.includes('event: canary')) text += (await reader.read()).value ?? '';
      const data = /event: canary\ndata: (.*)\n/.exec(text)?.[1];
      expect(JSON.parse(data!)).toMatchObject({ name: 'web', weight: 60 });
      await reader.cancel();
    }
    expect(backend.watches).toBe(1);
    expect(backend.lists).toBe(listsBefore);
  });

  it("opens a canary's confirm gate at its loadtester's origin, with the CSRF token, and refuses a canary without one", async () => {
    const received: { path: string; body: string }[] = [];
    const loadtester = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push({ path: request.url ?? '', body });
        response.end('ok');
      });
    });
    await new Promise<void>((resolve) => loadtester.listen(0, '127.0.0.1', resolve));
    try {
      const { call, backend } = await start({
        loadtester: `http://127.0.0.1:${(loadtester.address() as AddressInfo).port}`,
      });
      const csrf = await csrfOf(call, TOKEN);
      const post = (path: string, body: object) =>
        call(path, {
          method: 'POST',
          token: TOKEN,
          body: JSON.stringify(body),
          headers: { 'content-type': 'application/json', 'x-vireo-csrf': csrf },
        });
      const opened = await post('/api/canaries/shop/web/gates', {
        gate: 'open',
        reason: 'checked the graphs',
      });
      expect(opened.status).toBe(200);
      expect(received).toEqual([
        {
          path: '/gate/open',
          body: JSON.stringify({ name: 'web', namespace: 'shop', phase: '', checksum: '' }),
        },
      ]);
      const plain = canary('ops', 'plain');
      backend.set({ ...plain, spec: { ...plain.spec, analysis: { ...plain.spec.analysis, webhooks: [] } } });
      const none = await post('/api/canaries/ops/plain/gates', { gate: 'open', reason: 'x' });
      expect(none.status).toBe(409);
      expect(((await none.json()) as { code: string }).code).toBe('E_DASHBOARD_NO_GATE');
    } finally {
      await new Promise((resolve) => loadtester.close(resolve));
    }
  });
});
