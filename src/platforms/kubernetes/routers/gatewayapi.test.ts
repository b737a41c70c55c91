import { describe, expect, it } from 'vitest';
import type { Canary } from '../../../api/schema/canary.js';
import type { KubeClient, KubeObject } from '../client.js';
import { DEFAULT_PLATFORM_OPTIONS } from '../options.js';
import type { ObjectReader } from '../reader.js';
import type { ResourceType } from '../resources.js';
import { newTestCanary, TEST_CANARY_UID } from './fixtures.test-helper.js';
import {
  assertAccepted,
  cookieCondition,
  GatewayApiRouter,
  httpRouteSpec,
  ORIGINAL_CONFIGURATION,
  routesOf,
  setCookieValue,
  type HTTPRoute,
} from './gatewayapi.js';
import type { Routes } from './router.js';

const GATEWAY = { name: 'public', namespace: 'ingress' };
const routes = (canaryWeight: number, mirrored = false): Routes => ({
  primaryWeight: 100 - canaryWeight,
  canaryWeight,
  mirrored,
});
const canaryWith = (spec: Partial<Canary['spec']> = {}, status?: Canary['status']): Canary =>
  newTestCanary(
    {
      ...spec,
      service: { port: 80, targetPort: 9898, gatewayRefs: [GATEWAY], ...spec.service },
    },
    status,
  );
const v1 = { primaryCookie: true };

function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

/** An API server in memory: creates and merge patches change what the reader sees; generation counts spec changes. */
function memoryCluster(objects: HTTPRoute[] = []) {
  const store = new Map(objects.map((object) => [object.metadata.name, structuredClone(object)]));
  const writes: string[] = [];
  const reader: ObjectReader = {
    get: <T extends KubeObject>(_resource: ResourceType, _namespace: string, name: string) =>
      Promise.resolve(structuredClone(store.get(name)) as T | undefined),
  };
  const client = {
    create: (resource: ResourceType, object: HTTPRoute) => {
      writes.push(`create ${resource.kind}/${resource.version} ${object.metadata.name}`);
      store.set(object.metadata.name, {
        ...structuredClone(object),
        metadata: { ...object.metadata, generation: 1 },
      });
      return Promise.resolve(object);
    },
    mergePatch: (resource: ResourceType, _namespace: string, name: string, patch: { spec?: unknown }) => {
      writes.push(`patch ${resource.kind} ${name} ${JSON.stringify(patch)}`);
      const current = store.get(name)!;
      const next = applyMergePatch(current, patch) as HTTPRoute;
      if (patch.spec !== undefined) next.metadata.generation = (current.metadata.generation ?? 1) + 1;
      store.set(name, next);
      return Promise.resolve(next);
    },
  } as unknown as KubeClient;
  return { store, writes, deps: { client, reader, options: DEFAULT_PLATFORM_OPTIONS } };
}

describe('the HTTPRoute of the Gateway API routers (docs/routers/gatewayapi.md)', () => {
  it('given gatewayRefs and hosts, when routing 70/30, then the route attaches to the Gateway with the hostnames and weights on both Services', () => {
    const spec = httpRouteSpec(
      canaryWith({ service: { port: 80, hosts: ['app.example.com'], gatewayRefs: [GATEWAY] } }),
      routes(30),
      {},
      v1,
    );
    expect(spec).toEqual({
      parentRefs: [
        { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', namespace: 'ingress' },
      ],
      hostnames: ['app.example.com'],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [
            { group: '', kind: 'Service', name: 'podinfo-primary', port: 80, weight: 70 },
            { group: '', kind: 'Service', name: 'podinfo-canary', port: 80, weight: 30 },
          ],
        },
      ],
    });
  });

  it('given no gatewayRefs, when building the route, then the error names the field', () => {
    expect(() => httpRouteSpec(newTestCanary(), routes(0), {}, v1)).toThrow(
      expect.objectContaining({
        code: 'E_HTTPROUTE_GATEWAY_REFS',
        message: expect.stringContaining('spec.service.gatewayRefs'),
      }),
    );
  });

  it('given service matches, when building the route, then uri, method, headers and query parameters become HTTPRoute matches', () => {
    const spec = httpRouteSpec(
      canaryWith({
        service: {
          port: 80,
          gatewayRefs: [GATEWAY],
          match: [
            {
              uri: { prefix: '/api' },
              method: { exact: 'get' },
              headers: { 'x-b': { regex: 'b.*' }, 'x-a': { exact: 'a' } },
            },
            { uri: { regex: '/v[0-9]+' }, queryParams: { debug: { exact: '1' } } },
            { uri: { exact: '/health' } },
          ],
        },
      }),
      routes(0),
      {},
      v1,
    );
    expect(spec.rules[0]?.matches).toEqual([
      {
        path: { type: 'PathPrefix', value: '/api' },
        method: 'GET',
        headers: [
          { type: 'Exact', name: 'x-a', value: 'a' },
          { type: 'RegularExpression', name: 'x-b', value: 'b.*' },
        ],
      },
      {
        path: { type: 'RegularExpression', value: '/v[0-9]+' },
        queryParams: [{ type: 'Exact', name: 'debug', value: '1' }],
      },
      { path: { type: 'Exact', value: '/health' } },
    ]);
  });

  it.each([
    [{ headers: { 'x-a': { prefix: 'a' } } }, /spec\.service\.match\[0\]\.headers\.x-a: .*exact or regex/],
    [{ sourceLabels: { app: 'web' } }, /spec\.service\.match\[0\]: sourceLabels cannot be expressed/],
    [{ method: { prefix: 'G' } }, /spec\.service\.match\[0\]\.method: .*exact/],
  ])(
    'given the unsupported service match %j, when building the route, then it is an error naming the field',
    (match, message) => {
      expect(() =>
        httpRouteSpec(
          canaryWith({ service: { port: 80, gatewayRefs: [GATEWAY], match: [match] } }),
          routes(0),
          {},
          v1,
        ),
      ).toThrow(
        expect.objectContaining({ code: 'E_HTTPROUTE_MATCH', message: expect.stringMatching(message) }),
      );
    },
  );

  it('given headers, rewrite, static mirrors and timeouts, when building the route, then the filters come in order and the timeouts on the rule', () => {
    const spec = httpRouteSpec(
      canaryWith({
        service: {
          port: 80,
          gatewayRefs: [GATEWAY],
          headers: {
            request: { set: { 'x-z': '1', 'x-a': '2' }, remove: ['x-drop'] },
            response: { add: { 'x-served-by': 'vireo' } },
          },
          rewrite: { uri: '/v2', authority: 'internal.example.com', type: 'ReplacePrefixMatch' },
          mirror: [{ backendRef: { name: 'shadow', port: 8080 } }],
          timeout: '30s',
          backendTimeout: '10s',
        },
      }),
      routes(10),
      {},
      v1,
    );
    expect(spec.rules[0]?.filters).toEqual([
      {
        type: 'RequestHeaderModifier',
        requestHeaderModifier: {
          set: [
            { name: 'x-a', value: '2' },
            { name: 'x-z', value: '1' },
          ],
          remove: ['x-drop'],
        },
      },
      {
        type: 'ResponseHeaderModifier',
        responseHeaderModifier: { add: [{ name: 'x-served-by', value: 'vireo' }] },
      },
      {
        type: 'URLRewrite',
        urlRewrite: {
          hostname: 'internal.example.com',
          path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' },
        },
      },
      {
        type: 'RequestMirror',
        requestMirror: { backendRef: { group: '', kind: 'Service', name: 'shadow', port: 8080 } },
      },
    ]);
    expect(spec.rules[0]?.timeouts).toEqual({ request: '30s', backendRequest: '10s' });
  });

  it('given A/B matches, when routing to the canary, then the analysis conditions merged with the service ones go to the canary and the rest to the primary', () => {
    const spec = httpRouteSpec(
      canaryWith({
        service: {
          port: 80,
          gatewayRefs: [GATEWAY],
          match: [
            {
              uri: { prefix: '/api' },
              headers: { 'X-Canary': { exact: 'never' }, 'x-region': { exact: 'eu' } },
            },
          ],
        },
        analysis: {
          interval: '10s',
          threshold: 2,
          iterations: 5,
          match: [
            { headers: { 'x-canary': { exact: 'insider' } } },
            {
              headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } },
              queryParams: { beta: { exact: '1' } },
            },
          ],
        },
      }),
      routes(100),
      {},
      v1,
    );
    expect(spec.rules).toHaveLength(2);
    expect(spec.rules[0]?.matches).toEqual([
      {
        path: { type: 'PathPrefix', value: '/api' },
        headers: [
          { type: 'Exact', name: 'x-canary', value: 'insider' },
          { type: 'Exact', name: 'x-region', value: 'eu' },
        ],
      },
      {
        path: { type: 'PathPrefix', value: '/api' },
        headers: [
          { type: 'RegularExpression', name: 'cookie', value: '^(.*?;)?(canary=always)(;.*)?$' },
          { type: 'Exact', name: 'X-Canary', value: 'never' },
          { type: 'Exact', name: 'x-region', value: 'eu' },
        ],
        queryParams: [{ type: 'Exact', name: 'beta', value: '1' }],
      },
    ]);
    expect(spec.rules[0]?.backendRefs.map((ref) => [ref.name, ref.weight])).toEqual([
      ['podinfo-primary', 0],
      ['podinfo-canary', 100],
    ]);
    expect(spec.rules[1]).toMatchObject({
      matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
      backendRefs: [{ name: 'podinfo-primary', weight: 100 }],
    });
    expect(routesOf({ metadata: { name: 'podinfo' }, spec }, 'podinfo')).toEqual(routes(100));
  });

  it('given blue/green with mirroring, when mirrored, then the weighted rule mirrors to the canary and the routes read back say so; without iterations nothing is mirrored', () => {
    const blueGreen = canaryWith({
      analysis: { interval: '10s', threshold: 2, iterations: 3, mirror: true },
    });
    const spec = httpRouteSpec(blueGreen, routes(0, true), {}, v1);
    expect(spec.rules[0]?.filters).toEqual([
      {
        type: 'RequestMirror',
        requestMirror: { backendRef: { group: '', kind: 'Service', name: 'podinfo-canary', port: 80 } },
      },
    ]);
    expect(routesOf({ metadata: { name: 'podinfo' }, spec }, 'podinfo')).toEqual(routes(0, true));
    expect(httpRouteSpec(canaryWith(), routes(0, true), {}, v1).rules[0]?.filters).toBeUndefined();
  });

  describe('session affinity', () => {
    const affinity = (primaryCookieName?: string) =>
      canaryWith({
        analysis: {
          interval: '30s',
          threshold: 2,
          stepWeight: 10,
          sessionAffinity: {
            cookieName: 'flagger-cookie',
            ...(primaryCookieName === undefined ? {} : { primaryCookieName }),
            maxAge: 600,
            path: '/',
            sameSite: 'Lax',
            secure: true,
          },
        },
      });

    it('given a canary cookie at weight 10, when routing, then a sticky rule sends its holders to the canary and the canary answers set it', () => {
      const spec = httpRouteSpec(affinity(), routes(10), { canary: 'flagger-cookie=abcdeFGHIJ' }, v1);
      expect(spec.rules).toHaveLength(2);
      expect(spec.rules[0]).toEqual({
        matches: [
          {
            path: { type: 'PathPrefix', value: '/' },
            headers: [{ type: 'RegularExpression', name: 'Cookie', value: '.*flagger-cookie.*abcdeFGHIJ.*' }],
          },
        ],
        backendRefs: [{ group: '', kind: 'Service', name: 'podinfo-canary', port: 80, weight: 100 }],
      });
      expect(spec.rules[1]?.backendRefs[1]?.filters).toEqual([
        {
          type: 'ResponseHeaderModifier',
          responseHeaderModifier: {
            add: [
              {
                name: 'Set-Cookie',
                value: 'flagger-cookie=abcdeFGHIJ; Max-Age=600; Path=/; SameSite=Lax; Secure',
              },
            ],
          },
        },
      ]);
      expect(spec.rules[1]?.backendRefs[0]?.filters).toBeUndefined();
      expect(routesOf({ metadata: { name: 'podinfo' }, spec }, 'podinfo')).toEqual(routes(10));
    });

    it('given a primary cookie on v1, when routing, then its holders stay on the primary and primary answers set it for one interval; v1beta1 has no primary cookie', () => {
      const cookies = { canary: 'flagger-cookie=abcdeFGHIJ', primary: 'primary-cookie=KLMNOpqrst' };
      const spec = httpRouteSpec(affinity('primary-cookie'), routes(10), cookies, v1);
      expect(spec.rules.map((rule) => rule.backendRefs.map((ref) => ref.name))).toEqual([
        ['podinfo-canary'],
        ['podinfo-primary'],
        ['podinfo-primary', 'podinfo-canary'],
      ]);
      expect(spec.rules[1]?.matches[0]?.headers).toEqual([
        { type: 'RegularExpression', name: 'Cookie', value: '.*primary-cookie.*KLMNOpqrst.*' },
      ]);
      expect(spec.rules[2]?.backendRefs[0]?.filters?.[0]?.responseHeaderModifier?.add?.[0]?.value).toBe(
        'primary-cookie=KLMNOpqrst; Max-Age=30; Path=/; SameSite=Lax; Secure',
      );
      const beta = httpRouteSpec(affinity('primary-cookie'), routes(10), cookies, { primaryCookie: false });
      expect(beta.rules).toHaveLength(2);
    });

    it('given the run is over, when routing at weight 0, then holders of the previous cookie are told to drop it', () => {
      const spec = httpRouteSpec(affinity(), routes(0), { previous: 'flagger-cookie=abcdeFGHIJ' }, v1);
      expect(spec.rules[0]).toMatchObject({
        matches: [{ headers: [{ name: 'Cookie', value: '.*flagger-cookie.*abcdeFGHIJ.*' }] }],
        filters: [
          {
            type: 'ResponseHeaderModifier',
            responseHeaderModifier: {
              add: [
                {
                  name: 'Set-Cookie',
                  value: 'flagger-cookie=abcdeFGHIJ; Max-Age=-1; Path=/; SameSite=Lax; Secure',
                },
              ],
            },
          },
        ],
        backendRefs: [{ name: 'podinfo-primary', weight: 100 }],
      });
      expect(spec.rules[1]?.backendRefs.map((ref) => ref.weight)).toEqual([100, 0]);
    });

    it('formats cookies in Flagger’s attribute order and escapes regex characters in the match', () => {
      expect(
        setCookieValue('a=b', 10, {
          domain: 'x.io',
          httpOnly: true,
          partitioned: true,
          path: '/p',
          sameSite: 'None',
          secure: true,
        }),
      ).toBe('a=b; Max-Age=10; Domain=x.io; HttpOnly; Partitioned; Path=/p; SameSite=None; Secure');
      expect(cookieCondition('my.cookie=v+1').value).toBe('.*my\\.cookie.*v\\+1.*');
    });
  });

  describe('acceptance by the parents', () => {
    const route = (
      conditions: { type: string; status: string; observedGeneration?: number }[],
    ): HTTPRoute => ({
      metadata: { name: 'podinfo', namespace: 'test', generation: 3 },
      status: { parents: [{ parentRef: { name: 'public' }, conditions }] },
    });

    it('given the parent accepted the current generation, when checking, then it passes', () => {
      expect(() =>
        assertAccepted(route([{ type: 'Accepted', status: 'True', observedGeneration: 3 }])),
      ).not.toThrow();
    });

    it('given the parent accepted an older generation, when checking, then it halts naming both generations', () => {
      expect(() =>
        assertAccepted(route([{ type: 'Accepted', status: 'True', observedGeneration: 2 }])),
      ).toThrow(
        expect.objectContaining({
          code: 'E_HTTPROUTE_NOT_ACCEPTED',
          message: expect.stringMatching(/generation 3 .*accepted 2/),
        }),
      );
    });

    it('given the parent refused the route, when checking, then it halts with its reason', () => {
      expect(() =>
        assertAccepted(
          route([
            {
              type: 'Accepted',
              status: 'False',
              observedGeneration: 3,
              reason: 'NotAllowedByListeners',
            } as never,
          ]),
        ),
      ).toThrow(/not accepted by Gateway test\/public: NotAllowedByListeners/);
    });
  });

  describe('GatewayApiRouter against an API server in memory', () => {
    it('given no route, when reconciling, then HTTPRoute <svc> is created on the router’s version at 100/0 with Flux hands off and an owner reference', async () => {
      const cluster = memoryCluster();
      const router = new GatewayApiRouter(cluster.deps, 'v1beta1');
      await router.reconcile(canaryWith());
      expect(cluster.writes).toEqual(['create HTTPRoute/v1beta1 podinfo']);
      const created = cluster.store.get('podinfo')!;
      expect(created.apiVersion).toBe('gateway.networking.k8s.io/v1beta1');
      expect(created.metadata.annotations).toMatchObject({
        'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
      });
      expect(created.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Canary', uid: TEST_CANARY_UID });
      expect(await router.getRoutes(canaryWith())).toEqual(routes(0));
    });

    it('given a route at 30 % that someone edited, when reconciling, then the edit is undone but the weights stay, and a second reconcile writes nothing', async () => {
      const cluster = memoryCluster();
      const router = new GatewayApiRouter(cluster.deps, 'v1');
      const canary = canaryWith();
      await router.reconcile(canary);
      await router.setRoutes(canary, routes(30));
      const edited = cluster.store.get('podinfo')!;
      edited.spec!.hostnames = ['rogue.example.com'];
      edited.metadata.annotations = { ...edited.metadata.annotations, 'team.example.com/owner': 'web' };
      cluster.writes.length = 0;
      await router.reconcile(canary);
      expect(cluster.writes).toHaveLength(1);
      const fixed = cluster.store.get('podinfo')!;
      expect(fixed.spec?.hostnames).toBeUndefined();
      expect(fixed.metadata.annotations?.['team.example.com/owner']).toBe('web');
      expect(await router.getRoutes(canary)).toEqual(routes(30));
      cluster.writes.length = 0;
      await router.reconcile(canary);
      await router.setRoutes(canary, routes(30));
      expect(cluster.writes).toEqual([]);
    });

    it('given weights someone changed by hand, when reconciling, then they are not reverted (the next step sets them)', async () => {
      const cluster = memoryCluster();
      const router = new GatewayApiRouter(cluster.deps, 'v1');
      const canary = canaryWith();
      await router.reconcile(canary);
      await router.setRoutes(canary, routes(20));
      const edited = cluster.store.get('podinfo')!;
      edited.spec!.rules[0]!.backendRefs[0]!.weight = 50;
      edited.spec!.rules[0]!.backendRefs[1]!.weight = 50;
      cluster.writes.length = 0;
      await router.reconcile(canary);
      expect(cluster.writes).toEqual([]);
      expect(await router.getRoutes(canary)).toEqual(routes(50));
      await router.setRoutes(canary, routes(40));
      expect(await router.getRoutes(canary)).toEqual(routes(40));
    });

    it('given session-affinity cookies in status, when reconciling mid-run, then the cookie rules stay', async () => {
      const cluster = memoryCluster();
      const router = new GatewayApiRouter(cluster.deps, 'v1');
      const spec = {
        analysis: { interval: '10s', threshold: 2, stepWeight: 10, sessionAffinity: { cookieName: 'c' } },
      };
      await router.reconcile(canaryWith(spec));
      await router.setRoutes(canaryWith(spec), routes(10), { canary: 'c=abcdefghij' });
      cluster.writes.length = 0;
      await router.reconcile(canaryWith(spec, { sessionAffinityCookie: 'c=abcdefghij' }));
      expect(cluster.writes).toEqual([]);
      expect(cluster.store.get('podinfo')?.spec?.rules).toHaveLength(2);
    });

    it('given a route the user made, when taking it over and then finalizing, then its spec is saved and put back', async () => {
      const own: HTTPRoute = {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'podinfo', namespace: 'test', generation: 1 },
        spec: {
          parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public' }],
          rules: [
            {
              matches: [{ path: { type: 'PathPrefix', value: '/' } }],
              backendRefs: [{ group: '', kind: 'Service', name: 'podinfo', port: 80, weight: 1 }],
            },
          ],
        },
      };
      const cluster = memoryCluster([own]);
      const router = new GatewayApiRouter(cluster.deps, 'v1');
      await router.reconcile(canaryWith());
      const taken = cluster.store.get('podinfo')!;
      expect(JSON.parse(taken.metadata.annotations![ORIGINAL_CONFIGURATION]!)).toEqual({ spec: own.spec });
      expect(taken.metadata.ownerReferences).toBeUndefined();
      expect(await router.getRoutes(canaryWith())).toEqual(routes(0));
      await router.finalize(canaryWith());
      const restored = cluster.store.get('podinfo')!;
      expect(restored.spec).toEqual(own.spec);
      expect(restored.metadata.annotations?.[ORIGINAL_CONFIGURATION]).toBeUndefined();
    });

    it('given a route the Canary owns, when finalizing, then nothing is written (garbage collection removes it)', async () => {
      const cluster = memoryCluster();
      const router = new GatewayApiRouter(cluster.deps, 'v1');
      await router.reconcile(canaryWith());
      cluster.writes.length = 0;
      await router.finalize(canaryWith());
      expect(cluster.writes).toEqual([]);
    });

    it('given no route yet, when reading or setting routes, then a retriable error says the reconcile creates it', async () => {
      const router = new GatewayApiRouter(memoryCluster().deps, 'v1');
      await expect(router.getRoutes(canaryWith())).rejects.toMatchObject({ code: 'E_HTTPROUTE_NOT_FOUND' });
      await expect(router.setRoutes(canaryWith(), routes(10))).rejects.toMatchObject({
        code: 'E_HTTPROUTE_NOT_FOUND',
      });
    });
  });
});
