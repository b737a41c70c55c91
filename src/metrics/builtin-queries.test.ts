import { describe, expect, it } from 'vitest';
import type { Canary } from '../api/schema/canary.js';
import { UnknownRouterError } from '../routers/traits.js';
import {
  BUILTIN_QUERIES,
  OBSERVERS,
  observerFor,
  renderBuiltinQuery,
  renderRequestCountQuery,
} from './builtin-queries.js';

function canary(spec: Partial<Canary['spec']> = {}): Canary {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: { interval: '1m', threshold: 5 },
      ...spec,
    },
  };
}

describe('observerFor (docs/flagger-compatibility.md#41-built-in-checks observer choice)', () => {
  it.each([
    ['istio', undefined, 'istio'],
    ['linkerd', undefined, 'linkerd'],
    ['nginx', undefined, 'nginx'],
    ['kubernetes', undefined, 'http'],
    ['gatewayapi:v1', undefined, 'http'],
    ['appmesh:v1beta2', undefined, 'appmesh'],
    ['gloo', undefined, 'gloo'],
    ['smi:crossover', undefined, 'crossover'],
    // Flagger answers SMI routers with Istio's queries; a crossover mesh gets Crossover's.
    ['smi:v1alpha2', undefined, 'istio'],
    ['smi:v1alpha3:crossover', undefined, 'crossover'],
    ['osm', undefined, 'osm'],
    ['gatewayapi:v1beta1', undefined, 'http'],
    ['local', undefined, 'local'],
    ['istio', 'nginx', 'nginx'],
    ['istio', 'contour', 'contour'],
    // Linkerd's proxies see every request whichever ingress routes it: the global provider wins.
    ['linkerd', 'nginx', 'linkerd'],
  ] as const)('global %s, canary provider %s → %s', (global, provider, expected) => {
    expect(observerFor(canary(provider === undefined ? {} : { provider }), global)).toBe(expected);
  });

  it.each(['smi', 'something-new', 'nginx:service', 'istoi'])(
    'refuses the unknown global provider %s by name instead of answering with Istio queries',
    (global) => {
      expect(() => observerFor(canary(), global)).toThrow(UnknownRouterError);
      expect(() => observerFor(canary(), global)).toThrow(
        expect.objectContaining({
          code: 'E_UNKNOWN_ROUTER',
          message: expect.stringContaining(`"${global}" from the flag --mesh-provider`),
        }),
      );
    },
  );

  it('refuses an unknown spec.provider by name, naming the canary', () => {
    expect(() => observerFor(canary({ provider: 'linkerdd' as never }), 'istio')).toThrow(
      /"linkerdd" from spec\.provider of Canary podinfo\.test .*Did you mean "linkerd"\?/,
    );
  });
});

describe('renderBuiltinQuery', () => {
  it('renders the Istio success rate for the canary with the metric interval', () => {
    expect(renderBuiltinQuery('istio', 'request-success-rate', canary(), '2m')).toBe(
      'sum(rate(istio_requests_total{reporter="destination", destination_workload_namespace="test", destination_workload=~"podinfo", response_code!~"5.*"}[2m])) / ' +
        'sum(rate(istio_requests_total{reporter="destination", destination_workload_namespace="test", destination_workload=~"podinfo"}[2m])) * 100',
    );
  });

  it('uses ingressRef, service.name and routeRef where the router names objects by them', () => {
    const named = canary({
      ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'web' },
      service: { port: 9898, name: 'frontend' },
    });
    expect(renderBuiltinQuery('nginx', 'request-success-rate', named, '1m')).toContain('ingress="web"');
    expect(renderBuiltinQuery('contour', 'request-duration', named, '1m')).toContain(
      'envoy_cluster_name=~"test_frontend-canary_[0-9a-zA-Z-]+"',
    );
  });

  it('leaves no template placeholder in any router query', () => {
    for (const observer of OBSERVERS) {
      for (const check of ['request-success-rate', 'request-duration'] as const) {
        expect(renderBuiltinQuery(observer, check, canary(), '1m')).not.toMatch(/\{\{|\}\}/);
      }
    }
  });
});

describe('the request count beside a built-in check (its sample size)', () => {
  it.each(OBSERVERS)(
    '%s: counts with increase() exactly the requests its success rate divides by',
    (observer) => {
      const rate = renderBuiltinQuery(observer, 'request-success-rate', canary(), '1m');
      const count = renderRequestCountQuery(observer, canary(), '1m');
      const denominator = rate.split(' / ')[1]!.replace(/ \* 100$/, '');
      expect(count).toBe(denominator.replace(/^sum\(rate\(/, 'sum(increase('));
      expect(count).toMatch(/^sum\(increase\(.+\[1m\]\)\)$/);
      expect(BUILTIN_QUERIES[observer].successRate).toContain(' / ');
    },
  );

  it('nginx: the count of the canary Ingress in the window', () => {
    expect(renderRequestCountQuery('nginx', canary(), '2m')).toBe(
      'sum(increase(nginx_ingress_controller_requests{namespace="test", ingress="podinfo", canary!=""}[2m]))',
    );
  });
});
