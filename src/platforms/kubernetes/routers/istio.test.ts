import { describe, expect, it } from 'vitest';
import type { Canary } from '../../../api/schema/canary.js';
import type { KubeClient, KubeObject } from '../client.js';
import { DEFAULT_PLATFORM_OPTIONS } from '../options.js';
import type { ObjectReader } from '../reader.js';
import type { ResourceType } from '../resources.js';
import { newTestCanary } from './fixtures.test-helper.js';
import { istioWriteVersion, IstioRouter } from './istio.js';
import {
  abTestingMatch,
  destinationRuleSpecs,
  ORIGINAL_CONFIGURATION,
  originalSpecOf,
  routesOf,
  setCookieValue,
  virtualServiceSpec,
  type VirtualService,
} from './istio-spec.js';

type Spec = Canary['spec'];

const AT_0: Parameters<typeof virtualServiceSpec>[1] = {
  primaryWeight: 100,
  canaryWeight: 0,
  mirrored: false,
};
const AT_20 = { primaryWeight: 80, canaryWeight: 20, mirrored: false };

const canaryWith = (service: Partial<NonNullable<Spec['service']>>, spec: Partial<Spec> = {}): Canary =>
  newTestCanary({ service: { port: 80, targetPort: 9898, ...service }, ...spec });

const abCanary = (match: NonNullable<NonNullable<Spec['analysis']>['match']>, service = {}): Canary =>
  canaryWith(service, { analysis: { interval: '10s', threshold: 2, iterations: 5, match } });

const weighted = (primary: number, canary: number, port?: number) => [
  { destination: { host: 'podinfo-primary', ...(port ? { port: { number: port } } : {}) }, weight: primary },
  { destination: { host: 'podinfo-canary', ...(port ? { port: { number: port } } : {}) }, weight: canary },
];

describe('the DestinationRules (docs/routers/istio.md)', () => {
  it('given a trafficPolicy, when building, then both rules carry it with their own host', () => {
    const trafficPolicy = { tls: { mode: 'ISTIO_MUTUAL' as const } };
    expect(destinationRuleSpecs(canaryWith({ trafficPolicy }))).toEqual([
      { name: 'podinfo-primary', spec: { host: 'podinfo-primary', trafficPolicy } },
      { name: 'podinfo-canary', spec: { host: 'podinfo-canary', trafficPolicy } },
    ]);
  });

  it('given no trafficPolicy and a service name, when building, then the rules are named after the service', () => {
    expect(destinationRuleSpecs(canaryWith({ name: 'web' })).map((rule) => rule.spec)).toEqual([
      { host: 'web-primary' },
      { host: 'web-canary' },
    ]);
  });
});

describe('the VirtualService, canary strategy', () => {
  it('given only a port, when routing 100/0, then hosts is the service, the gateway is mesh and one route splits', () => {
    expect(virtualServiceSpec(canaryWith({}), AT_0, undefined)).toEqual({
      hosts: ['podinfo'],
      gateways: ['mesh'],
      http: [{ route: weighted(100, 0) }],
    });
  });

  it('given hosts, gateways, match, rewrite, timeout, retries, cors and headers, when routing 80/20, then the route carries them all', () => {
    const service = {
      hosts: ['app.example.com'],
      gateways: ['public-gateway.istio-system.svc.cluster.local'],
      match: [{ uri: { prefix: '/api' } }],
      rewrite: { uri: '/', authority: 'podinfo.test', type: 'ReplacePrefixMatch' },
      timeout: '30s',
      retries: { attempts: 3, perTryTimeout: '1s', retryOn: 'gateway-error,connect-failure' },
      corsPolicy: { allowOrigins: [{ exact: 'https://example.com' }], allowMethods: ['GET'], maxAge: '24h' },
      headers: { request: { add: { 'x-via': 'vireo' } }, response: { remove: ['x-powered-by'] } },
    };
    expect(virtualServiceSpec(canaryWith(service), AT_20, undefined)).toEqual({
      hosts: ['app.example.com', 'podinfo'],
      gateways: ['public-gateway.istio-system.svc.cluster.local'],
      http: [
        {
          match: [{ uri: { prefix: '/api' } }],
          // Istio's rewrite has no type: that one is Gateway API's.
          rewrite: { uri: '/', authority: 'podinfo.test' },
          timeout: '30s',
          retries: service.retries,
          corsPolicy: service.corsPolicy,
          headers: service.headers,
          route: weighted(80, 20),
        },
      ],
    });
  });

  it('given the service name or * among the hosts, when building, then the service is not added again', () => {
    expect(virtualServiceSpec(canaryWith({ hosts: ['podinfo', 'a.b'] }), AT_0, undefined).hosts).toEqual([
      'podinfo',
      'a.b',
    ]);
    expect(virtualServiceSpec(canaryWith({ hosts: ['*'] }), AT_0, undefined).hosts).toEqual(['*']);
  });

  it('given portDiscovery, when the gateway is mesh, then no port; behind a gateway or delegated, the service port', () => {
    const mesh = virtualServiceSpec(canaryWith({ portDiscovery: true }), AT_0, undefined);
    expect(mesh.http?.[0]?.route).toEqual(weighted(100, 0));
    const gateway = virtualServiceSpec(
      canaryWith({ portDiscovery: true, gateways: ['gw'] }),
      AT_0,
      undefined,
    );
    expect(gateway.http?.[0]?.route).toEqual(weighted(100, 0, 80));
    const delegate = virtualServiceSpec(
      canaryWith({ portDiscovery: true, delegation: true }),
      AT_0,
      undefined,
    );
    expect(delegate.http?.[0]?.route).toEqual(weighted(100, 0, 80));
    // Without portDiscovery the Service has one port: none is named.
    expect(virtualServiceSpec(canaryWith({ gateways: ['gw'] }), AT_0, undefined).http?.[0]?.route).toEqual(
      weighted(100, 0),
    );
  });

  it('given delegation, when building, then the VirtualService has neither hosts nor gateways', () => {
    const spec = virtualServiceSpec(canaryWith({ delegation: true }), AT_0, undefined);
    expect(spec).not.toHaveProperty('hosts');
    expect(spec).not.toHaveProperty('gateways');
    expect(spec.http).toHaveLength(1);
  });

  it('given delegation with hosts or gateways, when building, then the error names the field', () => {
    for (const field of ['hosts', 'gateways'] as const) {
      expect(() =>
        virtualServiceSpec(canaryWith({ delegation: true, [field]: ['x'] }), AT_0, undefined),
      ).toThrow(
        expect.objectContaining({
          code: 'E_ISTIO_SPEC',
          message: expect.stringContaining(
            `spec.service.${field} must be empty with spec.service.delegation`,
          ),
        }),
      );
    }
  });

  it('given appProtocol tcp, when routing 80/20, then a tcp route on the port splits and there is no http route', () => {
    expect(virtualServiceSpec(canaryWith({ appProtocol: 'tcp', port: 6379 }), AT_20, undefined)).toEqual({
      hosts: ['podinfo'],
      gateways: ['mesh'],
      tcp: [{ match: [{ port: 6379 }], route: weighted(80, 20) }],
    });
  });

  it('given gRPC (appProtocol grpc), when routing, then the routes are http ones, which Istio applies to gRPC', () => {
    const spec = virtualServiceSpec(
      canaryWith({ appProtocol: 'grpc', portName: 'grpc', retries: { retryOn: 'unavailable' } }),
      AT_20,
      undefined,
    );
    expect(spec.tcp).toBeUndefined();
    expect(spec.http).toEqual([{ retries: { retryOn: 'unavailable' }, route: weighted(80, 20) }]);
  });
});

describe('mirroring', () => {
  it('given mirror in the canary strategy, when routing 100/0 mirrored, then the canary is mirrored, with mirrorWeight as a percentage', () => {
    const canary = canaryWith(
      {},
      { analysis: { interval: '10s', threshold: 2, stepWeight: 10, mirror: true, mirrorWeight: 25 } },
    );
    expect(virtualServiceSpec(canary, { ...AT_0, mirrored: true }, undefined).http).toEqual([
      { route: weighted(100, 0), mirror: { host: 'podinfo-canary' }, mirrorPercentage: { value: 25 } },
    ]);
    // The next step stops mirroring.
    expect(virtualServiceSpec(canary, AT_20, undefined).http).toEqual([{ route: weighted(80, 20) }]);
  });

  it('given blue/green with mirror and no mirrorWeight, when routing mirrored, then everything is mirrored (no percentage)', () => {
    const canary = canaryWith(
      {},
      { analysis: { interval: '10s', threshold: 2, iterations: 5, mirror: true } },
    );
    expect(virtualServiceSpec(canary, { ...AT_0, mirrored: true }, undefined).http).toEqual([
      { route: weighted(100, 0), mirror: { host: 'podinfo-canary' } },
    ]);
  });
});

describe('A/B testing', () => {
  it('given header and cookie conditions without service.match, when routing 0/100, then matching requests split and the rest go to the primary', () => {
    const canary = abCanary([
      { headers: { 'x-canary': { exact: 'insider' } } },
      { headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } },
    ]);
    expect(
      virtualServiceSpec(canary, { primaryWeight: 0, canaryWeight: 100, mirrored: false }, undefined).http,
    ).toEqual([
      {
        match: [
          { headers: { 'x-canary': { exact: 'insider' } } },
          { headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } },
        ],
        route: weighted(0, 100),
      },
      { route: [{ destination: { host: 'podinfo-primary' }, weight: 100 }] },
    ]);
  });

  it('given service.match conditions, when merging, then each analysis condition is applied to each service one, replacing headers and sourceLabels', () => {
    const canary = abCanary(
      [{ headers: { 'user-agent': { regex: '.*Firefox.*' } } }, { sourceLabels: { app: 'frontend' } }],
      {
        match: [
          { uri: { prefix: '/api' }, headers: { 'x-old': { exact: 'y' } } },
          { uri: { prefix: '/v2' } },
        ],
      },
    );
    expect(abTestingMatch(canary)).toEqual([
      { uri: { prefix: '/api' }, headers: { 'user-agent': { regex: '.*Firefox.*' } } },
      { uri: { prefix: '/v2' }, headers: { 'user-agent': { regex: '.*Firefox.*' } } },
      { uri: { prefix: '/api' }, headers: { 'x-old': { exact: 'y' } }, sourceLabels: { app: 'frontend' } },
      { uri: { prefix: '/v2' }, sourceLabels: { app: 'frontend' } },
    ]);
    const http = virtualServiceSpec(canary, AT_0, undefined).http;
    expect(http?.[1]).toEqual({
      match: [{ uri: { prefix: '/api' }, headers: { 'x-old': { exact: 'y' } } }, { uri: { prefix: '/v2' } }],
      route: [{ destination: { host: 'podinfo-primary' }, weight: 100 }],
    });
  });

  it('given a suffix header condition, when building, then the error names the field and how to write it', () => {
    expect(() =>
      abTestingMatch(abCanary([{}, { headers: { 'x-user': { suffix: '@example.com' } } }])),
    ).toThrow(
      expect.objectContaining({
        code: 'E_ISTIO_SPEC',
        message: expect.stringMatching(
          /spec\.analysis\.match\[1\]\.headers\.x-user: Istio matches by exact, prefix or regex only/,
        ),
      }),
    );
  });
});

describe('session affinity', () => {
  const affinity = {
    cookieName: 'flagger-cookie',
    primaryCookieName: 'flagger-primary',
    maxAge: 3600,
    path: '/',
    sameSite: 'Lax' as const,
    secure: true,
    httpOnly: true,
    partitioned: true,
    domain: 'example.com',
  };
  const canary = canaryWith(
    {},
    { analysis: { interval: '30s', threshold: 2, stepWeight: 10, sessionAffinity: affinity } },
  );
  const cookies = { canary: 'flagger-cookie=abcdefghij', primary: 'flagger-primary=ABCDEFGHIJ' };

  it('formats Set-Cookie with the attributes in Flagger’s order', () => {
    expect(setCookieValue('c=v', 60, affinity)).toBe(
      'c=v; Max-Age=60; Domain=example.com; HttpOnly; Partitioned; Path=/; SameSite=Lax; Secure',
    );
    expect(setCookieValue('c=v', 86400, { cookieName: 'c' })).toBe('c=v; Max-Age=86400');
  });

  it('given weight 20 and both cookies, when routing, then canary-sticky, primary-sticky, then the weighted route handing out both cookies', () => {
    const http = virtualServiceSpec(canary, AT_20, cookies).http;
    expect(http).toEqual([
      {
        name: 'canary-affinity',
        match: [{ headers: { cookie: { regex: '.*flagger-cookie=abcdefghij.*' } } }],
        route: [{ destination: { host: 'podinfo-canary' }, weight: 100 }],
      },
      {
        name: 'primary-affinity',
        match: [{ headers: { cookie: { regex: '.*flagger-primary=ABCDEFGHIJ.*' } } }],
        route: [{ destination: { host: 'podinfo-primary' }, weight: 100 }],
      },
      {
        route: [
          {
            destination: { host: 'podinfo-primary' },
            weight: 80,
            // The primary's cookie lasts one analysis interval: the client takes its chance again next step.
            headers: { response: { add: { 'Set-Cookie': setCookieValue(cookies.primary, 30, affinity) } } },
          },
          {
            destination: { host: 'podinfo-canary' },
            weight: 20,
            headers: { response: { add: { 'Set-Cookie': setCookieValue(cookies.canary, 3600, affinity) } } },
          },
        ],
      },
    ]);
    expect(routesOf({ http }, canary)).toEqual(AT_20);
  });

  it('given service.match, when pinning, then the cookie condition is added to each service condition', () => {
    const matched = canaryWith(
      { match: [{ uri: { prefix: '/api' }, headers: { 'x-a': { exact: 'b' } } }] },
      { analysis: { interval: '30s', threshold: 2, stepWeight: 10, sessionAffinity: { cookieName: 'c.k' } } },
    );
    const http = virtualServiceSpec(matched, AT_20, { canary: 'c.k=xyz' }).http;
    expect(http?.[0]?.match).toEqual([
      { uri: { prefix: '/api' }, headers: { 'x-a': { exact: 'b' }, cookie: { regex: '.*c\\.k=xyz.*' } } },
    ]);
    expect(http).toHaveLength(2);
  });

  it('given weight 0 after a run, when routing, then the previous cookie is expired on the primary and nothing is handed out', () => {
    const http = virtualServiceSpec(canary, AT_0, {
      primary: cookies.primary,
      previous: cookies.canary,
    }).http;
    expect(http).toEqual([
      {
        name: 'expired-affinity',
        match: [{ headers: { cookie: { regex: '.*flagger-cookie=abcdefghij.*' } } }],
        route: [
          {
            destination: { host: 'podinfo-primary' },
            weight: 100,
            headers: { response: { add: { 'Set-Cookie': setCookieValue(cookies.canary, -1, affinity) } } },
          },
        ],
      },
      { route: weighted(100, 0) },
    ]);
  });

  it('given a cookie domain with a separator, when routing, then the error names the field', () => {
    const bad = canaryWith(
      {},
      {
        analysis: {
          interval: '30s',
          threshold: 2,
          stepWeight: 10,
          sessionAffinity: { cookieName: 'c', domain: 'a.com; Secure' },
        },
      },
    );
    expect(() => virtualServiceSpec(bad, AT_20, { canary: 'c=x' })).toThrow(
      expect.objectContaining({
        code: 'E_ISTIO_SPEC',
        message: expect.stringContaining('sessionAffinity.domain'),
      }),
    );
  });
});

describe('routesOf', () => {
  it('given a VirtualService written by another tool in another order, when reading, then the weights come from the route to both sides', () => {
    const spec = {
      http: [
        { route: [{ destination: { host: 'podinfo-canary' }, weight: 100 }] },
        {
          route: [
            { destination: { host: 'podinfo-canary' }, weight: 35 },
            { destination: { host: 'podinfo-primary' }, weight: 65 },
          ],
          mirror: { host: 'podinfo-canary' },
        },
      ],
    };
    expect(routesOf(spec, newTestCanary())).toEqual({ primaryWeight: 65, canaryWeight: 35, mirrored: true });
  });

  it('given tcp routes, when reading, then they count; given no route to both sides, then undefined', () => {
    expect(routesOf({ tcp: [{ route: weighted(70, 30) }] }, newTestCanary())).toMatchObject({
      canaryWeight: 30,
    });
    expect(
      routesOf({ http: [{ route: [{ destination: { host: 'other' } }] }] }, newTestCanary()),
    ).toBeUndefined();
    expect(routesOf(undefined, newTestCanary())).toBeUndefined();
  });
});

describe('originalSpecOf', () => {
  const vs = (annotations: Record<string, string>): VirtualService => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'podinfo', annotations },
  });
  const kubectl = 'kubectl.kubernetes.io/last-applied-configuration';

  it('prefers kubectl’s record, else the saved original, else nothing', () => {
    const mine = { hosts: ['mine'] };
    const saved = { hosts: ['saved'] };
    expect(
      originalSpecOf(
        vs({ [kubectl]: JSON.stringify({ spec: mine }), [ORIGINAL_CONFIGURATION]: JSON.stringify(saved) }),
        kubectl,
      ),
    ).toEqual(mine);
    expect(
      originalSpecOf(vs({ [kubectl]: 'not json', [ORIGINAL_CONFIGURATION]: JSON.stringify(saved) }), kubectl),
    ).toEqual(saved);
    expect(originalSpecOf(vs({}), kubectl)).toBeUndefined();
  });

  it('given an unreadable saved original, when restoring, then the error names the annotation', () => {
    expect(() => originalSpecOf(vs({ [ORIGINAL_CONFIGURATION]: '{"hosts": [' }), kubectl)).toThrow(
      expect.objectContaining({
        code: 'E_ISTIO_ORIGINAL',
        message: expect.stringContaining(ORIGINAL_CONFIGURATION),
      }),
    );
  });
});

describe('API versions', () => {
  const both = ['virtualservices', 'virtualservices/status', 'destinationrules', 'destinationrules/status'];

  it('writes v1 when it serves both kinds, else v1beta1, and names what is missing otherwise', () => {
    expect(istioWriteVersion({ v1: both, v1beta1: both })).toBe('v1');
    // v1 served for other kinds of the group only (an older Istio with a newer CRD beside it).
    expect(istioWriteVersion({ v1: ['gateways'], v1beta1: both })).toBe('v1beta1');
    expect(() => istioWriteVersion({ v1: [], v1beta1: ['virtualservices'] })).toThrow(
      expect.objectContaining({
        code: 'E_ISTIO_API',
        message: expect.stringContaining('serves VirtualService and DestinationRule at none of'),
      }),
    );
    expect(() => istioWriteVersion({ v1: [], v1beta1: [] })).toThrow(
      expect.objectContaining({ code: 'E_ISTIO_API', message: expect.stringContaining('install Istio') }),
    );
  });
});

/** A reader over fixed objects and a client recording writes, serving `versions` by discovery. */
function recordingDeps(objects: KubeObject[], versions: string[]) {
  const kinds = ['virtualservices', 'destinationrules'];
  const writes: { verb: string; version: string; name: string; body: unknown }[] = [];
  const reader: ObjectReader = {
    get: <T extends KubeObject>(resource: ResourceType, namespace: string, name: string) =>
      Promise.resolve(
        structuredClone(
          objects.find(
            (object) =>
              object.kind === resource.kind &&
              object.metadata.namespace === namespace &&
              object.metadata.name === name,
          ),
        ) as T | undefined,
      ),
  };
  let discoveries = 0;
  const client = {
    servedResources: (_group: string, version: string) => {
      discoveries += 1;
      return Promise.resolve(versions.includes(version) ? kinds : []);
    },
    create: (resource: ResourceType, object: KubeObject) => {
      writes.push({
        verb: 'create',
        version: resource.version,
        name: `${resource.kind} ${object.metadata.name}`,
        body: object,
      });
      return Promise.resolve(object);
    },
    mergePatch: (resource: ResourceType, _namespace: string, name: string, body: unknown) => {
      writes.push({ verb: 'patch', version: resource.version, name: `${resource.kind} ${name}`, body });
      return Promise.resolve({ metadata: { name } });
    },
  } as unknown as KubeClient;
  return {
    deps: { client, reader, options: DEFAULT_PLATFORM_OPTIONS },
    writes,
    discoveries: () => discoveries,
  };
}

describe('IstioRouter', () => {
  const liveVs = (
    spec: VirtualService['spec'],
    metadata: Partial<KubeObject['metadata']> = {},
  ): VirtualService => ({
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'VirtualService',
    metadata: { name: 'podinfo', namespace: 'test', ...metadata },
    spec,
  });

  it('given an empty namespace on a cluster serving v1beta1 only, when reconciling twice, then both rules and the VirtualService are created at v1beta1 and discovery runs once per version asked', async () => {
    const { deps, writes, discoveries } = recordingDeps([], ['v1beta1', 'v1alpha3']);
    const router = new IstioRouter(deps);
    await router.reconcile(newTestCanary());
    await router.reconcile(newTestCanary());
    expect(
      writes.filter((write) => write.verb === 'create').map((write) => `${write.version} ${write.name}`),
    ).toEqual([
      'v1beta1 DestinationRule podinfo-primary',
      'v1beta1 DestinationRule podinfo-canary',
      'v1beta1 VirtualService podinfo',
      'v1beta1 DestinationRule podinfo-primary',
      'v1beta1 DestinationRule podinfo-canary',
      'v1beta1 VirtualService podinfo',
    ]);
    // v1 (not served), then v1beta1; never again.
    expect(discoveries()).toBe(2);
  });

  it('given a live VirtualService at 60/40 mirrored and a changed timeout, when reconciling, then only the timeout changes', async () => {
    const canary = canaryWith(
      { timeout: '5s' },
      { analysis: { interval: '10s', threshold: 2, stepWeight: 10, mirror: true } },
    );
    const live = liveVs(
      {
        hosts: ['podinfo'],
        gateways: ['mesh'],
        http: [{ route: weighted(60, 40), mirror: { host: 'podinfo-canary' } }],
      },
      { ownerReferences: [{ apiVersion: 'flagger.app/v1beta1', kind: 'Canary', name: 'podinfo', uid: 'u' }] },
    );
    const { deps, writes } = recordingDeps([live], ['v1', 'v1beta1']);
    await new IstioRouter(deps).reconcile(canary);
    const patch = writes.find((write) => write.name === 'VirtualService podinfo');
    expect(patch?.body).toMatchObject({
      spec: { http: [{ route: weighted(60, 40), mirror: { host: 'podinfo-canary' }, timeout: '5s' }] },
    });
    // The Canary owns it: nothing to keep for revertOnDeletion.
    expect(JSON.stringify(patch?.body)).not.toContain(ORIGINAL_CONFIGURATION);
  });

  it('given an adopted VirtualService without kubectl’s record, when reconciling twice, then its spec is saved once and apex metadata added', async () => {
    const original = { hosts: ['podinfo'], http: [{ route: [{ destination: { host: 'podinfo' } }] }] };
    const canary = canaryWith({ apex: { labels: { team: 'web' }, annotations: { note: 'x' } } });
    const { deps, writes } = recordingDeps([liveVs(original, { labels: { own: 'label' } })], ['v1']);
    await new IstioRouter(deps).reconcile(canary);
    const patch = writes.find((write) => write.name === 'VirtualService podinfo')?.body as {
      metadata: { labels: object; annotations: Record<string, string> };
    };
    expect(patch.metadata.labels).toEqual({ team: 'web' });
    expect(JSON.parse(patch.metadata.annotations[ORIGINAL_CONFIGURATION]!)).toEqual(original);
    expect(patch.metadata.annotations).toMatchObject({
      note: 'x',
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
    });
  });

  it('given an adopted VirtualService with a saved original, when finalizing, then the spec comes back and the annotation goes', async () => {
    const original = { hosts: ['podinfo'], http: [{ route: [{ destination: { host: 'podinfo' } }] }] };
    const live = liveVs(virtualServiceSpec(newTestCanary(), AT_0, undefined), {
      annotations: { [ORIGINAL_CONFIGURATION]: JSON.stringify(original) },
    });
    const { deps, writes } = recordingDeps([live], ['v1']);
    await new IstioRouter(deps).finalize(newTestCanary());
    expect(writes).toEqual([
      {
        verb: 'patch',
        version: 'v1',
        name: 'VirtualService podinfo',
        body: {
          metadata: { annotations: { [ORIGINAL_CONFIGURATION]: null } },
          spec: { gateways: null, http: original.http },
        },
      },
    ]);
  });

  it('given no VirtualService yet, when reading or setting routes, then a retriable E_ISTIO_NOT_FOUND names it', async () => {
    const { deps } = recordingDeps([], ['v1']);
    await expect(new IstioRouter(deps).getRoutes(newTestCanary())).rejects.toMatchObject({
      code: 'E_ISTIO_NOT_FOUND',
      message: expect.stringContaining('VirtualService podinfo does not exist yet'),
    });
  });

  it('given a cluster without Istio, when reconciling, then E_ISTIO_API says to install it and nothing is written', async () => {
    const { deps, writes } = recordingDeps([], []);
    await expect(new IstioRouter(deps).reconcile(newTestCanary())).rejects.toMatchObject({
      code: 'E_ISTIO_API',
    });
    expect(writes).toEqual([]);
  });
});
