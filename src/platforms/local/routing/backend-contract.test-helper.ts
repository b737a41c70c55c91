/**
 * The RouteBackend contract, for each backend the factory builds, with real upstreams on
 * 127.0.0.1: the same route is served the same way whichever router a Workload names. Run by
 * builtin/backend.test.ts and, since it starts Debian's nginx, test/integration/nginx-backend.test.ts.
 */
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanups, startUpstream } from '../../../../test/support/router-upstreams.js';
import type { LocalRouterName, RouteBackend } from './backend.js';
import { TrafficRecorder } from './builtin/recorder.js';
import { createRouteBackend } from './factory.js';
import { InvalidRouteError } from './route-check.js';
import type { LocalRoute } from './route.js';

interface Answer {
  readonly status: number;
  readonly arm: string | undefined;
  readonly setCookie: string[];
}

/** One request on a connection of its own. */
function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false, timeout: 30_000 }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          arm: res.headers['x-vireo-backend'] as string | undefined,
          setCookie: res.headers['set-cookie'] ?? [],
        }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 30 s')));
    req.on('error', reject);
    req.end();
  });
}

/** Declares the contract's tests for one backend. */
export function describeRouteBackendContract(name: LocalRouterName): void {
  describe(`the ${name} backend`, () => {
    contract(name);
  });
}

function contract(name: LocalRouterName): void {
  const cleanup = cleanups();
  let directory = '';
  afterAll(() => (directory === '' ? undefined : rm(directory, { recursive: true, force: true })));

  async function serve(): Promise<{
    backend: RouteBackend;
    route: (change?: Partial<LocalRoute>) => LocalRoute;
  }> {
    const primary = await startUpstream('primary');
    const canary = await startUpstream('canary');
    cleanup(() => primary.close());
    cleanup(() => canary.close());
    directory ||= await mkdtemp(join(tmpdir(), 'vireo-route-backend-'));
    const backend = createRouteBackend(name, {
      logger: pino({ enabled: false }),
      recorder: new TrafficRecorder({ registry: new Registry() }),
      nginxDirectory: join(directory, `nginx-${Math.random().toString(36).slice(2)}`),
    });
    cleanup(() => backend.closeAll());
    const route = (change: Partial<LocalRoute> = {}): LocalRoute => ({
      namespace: 'test',
      service: 'web',
      listen: { host: '127.0.0.1', port: 0 },
      primary: [primary.url],
      canary: [canary.url],
      canaryWeight: 0,
      mirror: false,
      match: [],
      ...change,
    });
    return { backend, route };
  }

  it('serves the split, A/B matches and session cookies of the route it was given', async () => {
    const { backend, route } = await serve();
    await backend.apply(route());
    const url = backend.url('test', 'web');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await get(url!)).arm).toBe('primary');

    await backend.apply(
      route({
        canaryWeight: 100,
        sessionAffinity: {
          cookieName: 'flagger-cookie',
          canaryValue: 'ABCdefGHIj',
          maxAgeSeconds: 86_400,
          primaryMaxAgeSeconds: 60,
          path: '/',
          httpOnly: true,
          sameSite: 'Lax',
        },
      }),
    );
    expect(backend.url('test', 'web')).toBe(url);
    const weighted = await get(url!);
    expect(weighted.arm).toBe('canary');
    expect(weighted.setCookie).toEqual([
      'flagger-cookie=ABCdefGHIj; Max-Age=86400; HttpOnly; Path=/; SameSite=Lax',
    ]);

    await backend.apply(
      route({ canaryWeight: 0, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] }),
    );
    expect((await get(url!, { 'x-canary': 'insider' })).arm).toBe('canary');
    expect((await get(url!, { 'x-canary': 'other' })).arm).toBe('primary');
  }, 60_000);

  it('refuses a route that breaks a rule, naming the field, and keeps serving the last one', async () => {
    const { backend, route } = await serve();
    await backend.apply(route({ canaryWeight: 100 }));
    const url = backend.url('test', 'web')!;
    const refused = await backend
      .apply(
        route({
          canaryWeight: 0,
          sessionAffinity: { cookieName: 'a$b', maxAgeSeconds: 1, primaryMaxAgeSeconds: 1 },
        }),
      )
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(InvalidRouteError);
    expect((refused as InvalidRouteError).code).toBe('E_INVALID_ROUTE');
    expect((refused as InvalidRouteError).message).toContain('sessionAffinity.cookieName');
    expect((await get(url)).arm).toBe('canary');
  }, 60_000);

  it('stops serving a removed service, and nothing after closeAll', async () => {
    const { backend, route } = await serve();
    await backend.apply(route());
    const url = backend.url('test', 'web')!;
    await backend.remove('test', 'web');
    expect(backend.url('test', 'web')).toBeUndefined();
    await expect(get(url)).rejects.toThrow(/ECONNREFUSED/);
    await backend.closeAll();
    await backend.apply(route());
    expect(backend.url('test', 'web')).toBeUndefined();
  }, 60_000);
}
