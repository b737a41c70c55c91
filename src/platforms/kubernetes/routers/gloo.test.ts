import { describe, expect, it } from 'vitest';
import { newTestCanary } from './fixtures.test-helper.js';
import {
  GLOO_ROUTE_TABLES,
  GLOO_UPSTREAMS,
  GlooRouter,
  glooMatchers,
  glooRouteTableSpec,
  glooUpstream,
  glooUpstreamName,
} from './gloo.js';
import { newMeshStore } from './mesh-store.test-helper.js';
import type { MeshObject } from './mesh-objects.js';

const routes = (primaryWeight: number, canaryWeight: number) => ({
  primaryWeight,
  canaryWeight,
  mirrored: false,
});

const abCanary = (headers: Record<string, Record<string, string>>) =>
  newTestCanary({ analysis: { interval: '10s', threshold: 2, iterations: 5, match: [{ headers }] } });

describe('gloo Upstreams (docs/routers/gloo.md)', () => {
  it('given podinfo on port 80 in test, when naming, then the upstreams are <ns>-<svc>-{primary,canary}upstream-<port>', () => {
    expect(glooUpstreamName(newTestCanary(), 'primary')).toBe('test-podinfo-primaryupstream-80');
    expect(glooUpstreamName(newTestCanary(), 'canary')).toBe('test-podinfo-canaryupstream-80');
  });

  it('given a template Upstream, when building, then its connection settings are copied and where it points is not', () => {
    const template: MeshObject = {
      metadata: { name: 'settings', namespace: 'test' },
      spec: {
        kube: { serviceName: 'elsewhere', serviceNamespace: 'other', servicePort: 1 },
        sslConfig: { sni: 'podinfo.example.com' },
        circuitBreakers: { maxConnections: 10 },
        healthChecks: [{ timeout: '1s' }],
      },
    };
    const upstream = glooUpstream(newTestCanary(), 'canary', template);
    expect(upstream.spec).toEqual({
      sslConfig: { sni: 'podinfo.example.com' },
      circuitBreakers: { maxConnections: 10 },
      kube: { serviceName: 'podinfo-canary', serviceNamespace: 'test', servicePort: 80 },
    });
    expect(upstream.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', name: 'podinfo' }),
    ]);
    expect(upstream.metadata.annotations).toMatchObject({
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
    });
  });
});

describe('gloo RouteTable', () => {
  it('given a weighted canary at 80/20, when building, then one inheriting route splits the two upstreams', () => {
    expect(glooRouteTableSpec(newTestCanary(), routes(80, 20))).toEqual({
      routes: [
        {
          inheritablePathMatchers: true,
          routeAction: {
            multi: {
              destinations: [
                {
                  destination: { upstream: { name: 'test-podinfo-primaryupstream-80', namespace: 'test' } },
                  weight: 80,
                },
                {
                  destination: { upstream: { name: 'test-podinfo-canaryupstream-80', namespace: 'test' } },
                  weight: 20,
                },
              ],
            },
          },
        },
      ],
    });
  });

  it('given A/B on an exact and a regex header, when building, then route 0 matches them and route 1 keeps the rest on the primary', () => {
    const spec = glooRouteTableSpec(
      abCanary({ 'x-canary': { exact: 'insider' }, 'user-agent': { regex: '.*Firefox.*' } }),
      routes(0, 100),
    );
    const tableRoutes = spec['routes'] as Record<string, unknown>[];
    expect(tableRoutes[0]).toMatchObject({
      matchers: [
        {
          headers: [
            { name: 'x-canary', value: 'insider' },
            { name: 'user-agent', value: '.*Firefox.*', regex: true },
          ],
        },
      ],
    });
    expect(tableRoutes[1]).not.toHaveProperty('matchers');
    expect(tableRoutes[1]).toMatchObject({
      routeAction: { multi: { destinations: [{ weight: 100 }, { weight: 0 }] } },
    });
  });

  it('given a prefix header match, when building, then E_MESH_MATCH names the field', () => {
    expect(() => glooMatchers([{}, { headers: { 'x-user': { prefix: 'a' } } }])).toThrow(
      expect.objectContaining({
        code: 'E_MESH_MATCH',
        message: expect.stringContaining('spec.analysis.match[1].headers.x-user'),
      }),
    );
  });
});

describe('GlooRouter', () => {
  it('given nothing yet, when reconciling, routing and reconciling again, then the weights set are read back and kept', async () => {
    const store = newMeshStore();
    const router = new GlooRouter(store.deps);
    const canary = newTestCanary();
    await router.reconcile(canary);
    expect(store.writes).toEqual([
      'create Upstream test-podinfo-primaryupstream-80',
      'create Upstream test-podinfo-canaryupstream-80',
      'create RouteTable podinfo',
    ]);
    expect(await router.getRoutes(canary)).toEqual(routes(100, 0));
    await router.setRoutes(canary, routes(60, 40));
    expect(await router.getRoutes(canary)).toEqual(routes(60, 40));
    store.writes.length = 0;
    await router.reconcile(canary);
    await router.setRoutes(canary, routes(60, 40));
    expect(store.writes).toEqual([]);
  });

  it('given an upstreamRef to a missing Upstream, when reconciling, then E_MESH_NOT_FOUND names it', async () => {
    const router = new GlooRouter(newMeshStore().deps);
    const canary = newTestCanary({
      upstreamRef: { apiVersion: 'gloo.solo.io/v1', kind: 'Upstream', name: 'nope' },
    });
    await expect(router.reconcile(canary)).rejects.toMatchObject({
      code: 'E_MESH_NOT_FOUND',
      message: expect.stringContaining('spec.upstreamRef Upstream nope does not exist in namespace test'),
    });
  });

  it('given a RouteTable whose weights were edited to text, when reading, then E_MESH_WEIGHTS names the object and field', async () => {
    const store = newMeshStore();
    const router = new GlooRouter(store.deps);
    const canary = newTestCanary();
    await router.reconcile(canary);
    const table = store.object<MeshObject>(GLOO_ROUTE_TABLES, 'test', 'podinfo')!;
    (
      table.spec!['routes'] as { routeAction: { multi: { destinations: { weight: unknown }[] } } }[]
    )[0]!.routeAction.multi.destinations[0]!.weight = 'half';
    store.put(GLOO_ROUTE_TABLES, table);
    await expect(router.getRoutes(canary)).rejects.toMatchObject({
      code: 'E_MESH_WEIGHTS',
      message: expect.stringContaining('RouteTable podinfo spec.routes[0].routeAction.multi.destinations'),
    });
    expect(store.object(GLOO_UPSTREAMS, 'test', 'test-podinfo-canaryupstream-80')).toBeDefined();
  });
});
