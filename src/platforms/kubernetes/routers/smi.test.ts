import { describe, expect, it } from 'vitest';
import { findRouter } from '../../../routers/traits.js';
import { newTestCanary } from './fixtures.test-helper.js';
import {
  ISTIO_GATEWAYS_ANNOTATION,
  parseSplitWeight,
  routesFromSplit,
  splitAnnotations,
  splitBackends,
  splitServiceOf,
  trafficSplitResource,
  type SmiRouterName,
  type TrafficSplit,
} from './smi.js';

const split = (backends: { service: string; weight: number | string }[]): TrafficSplit => ({
  apiVersion: 'split.smi-spec.io/v1alpha2',
  kind: 'TrafficSplit',
  metadata: { name: 'podinfo', namespace: 'test' },
  spec: { service: 'podinfo', backends },
});

describe('the TrafficSplit version of each SMI router (docs/routers/smi.md)', () => {
  it.each<[SmiRouterName, string]>([
    ['linkerd', 'v1alpha1'],
    ['smi:crossover', 'v1alpha1'],
    ['smi:v1alpha1', 'v1alpha1'],
    ['smi:v1alpha2', 'v1alpha2'],
    ['smi:v1alpha3', 'v1alpha3'],
    ['osm', 'v1alpha2'],
  ])('given provider %s, when writing, then the TrafficSplit is split.smi-spec.io/%s', (router, version) => {
    expect(trafficSplitResource(router)).toMatchObject({
      group: 'split.smi-spec.io',
      version,
      plural: 'trafficsplits',
      kind: 'TrafficSplit',
    });
  });

  it("given Flagger's smi:<version>:<mesh> names, when resolved, then each lands on its version's row", () => {
    expect(findRouter('smi:v1alpha3:linkerd')?.name).toBe('smi:v1alpha3');
    expect(findRouter('smi:v1alpha2:istio')?.name).toBe('smi:v1alpha2');
    expect(findRouter('smi:v1alpha1:crossover')?.name).toBe('smi:v1alpha1');
  });
});

describe('the TrafficSplit spec', () => {
  it('given weights 90/10, when building backends, then the canary comes first with 10 and the primary with 90', () => {
    expect(splitBackends(newTestCanary(), { primaryWeight: 90, canaryWeight: 10 })).toEqual([
      { service: 'podinfo-canary', weight: 10 },
      { service: 'podinfo-primary', weight: 90 },
    ]);
  });

  it('given spec.service.name, when building backends and the service, then both follow that name', () => {
    const canary = newTestCanary({ service: { name: 'web', port: 80 } });
    expect(splitBackends(canary, { primaryWeight: 100, canaryWeight: 0 }).map((b) => b.service)).toEqual([
      'web-canary',
      'web-primary',
    ]);
    expect(splitServiceOf(canary, 'smi:v1alpha2')).toBe('web');
  });

  it('given hosts, when linkerd builds the split, then spec.service is the first host; other SMI routers keep the apex', () => {
    const canary = newTestCanary({ service: { port: 80, hosts: ['podinfo.test.svc.cluster.local', 'x'] } });
    expect(splitServiceOf(canary, 'linkerd')).toBe('podinfo.test.svc.cluster.local');
    expect(splitServiceOf(canary, 'smi:v1alpha1')).toBe('podinfo');
    expect(splitServiceOf(newTestCanary(), 'linkerd')).toBe('podinfo');
  });

  it('given gateways, when annotating, then the Istio SMI adapter annotation lists them; without, only Flux is kept off', () => {
    const canary = newTestCanary({ service: { port: 80, gateways: ['public-gateway.istio-system'] } });
    expect(splitAnnotations(canary)).toEqual({
      [ISTIO_GATEWAYS_ANNOTATION]: '["public-gateway.istio-system"]',
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
      'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
    });
    expect(Object.keys(splitAnnotations(newTestCanary()))).not.toContain(ISTIO_GATEWAYS_ANNOTATION);
  });
});

describe('reading the weights back', () => {
  it('given integer weights, when reading, then the routes are those weights', () => {
    const live = split([
      { service: 'podinfo-canary', weight: 30 },
      { service: 'podinfo-primary', weight: 70 },
    ]);
    expect(routesFromSplit(live, newTestCanary())).toEqual({
      primaryWeight: 70,
      canaryWeight: 30,
      mirrored: false,
    });
  });

  it('given v1alpha1 quantity weights such as 900m/100m, when reading, then they read as shares of 100', () => {
    const live = split([
      { service: 'podinfo-primary', weight: '900m' },
      { service: 'podinfo-canary', weight: '100m' },
    ]);
    expect(routesFromSplit(live, newTestCanary())).toMatchObject({ primaryWeight: 90, canaryWeight: 10 });
    expect(parseSplitWeight('25', 'w')).toBe(25);
    expect(parseSplitWeight('1k', 'w')).toBe(1000);
  });

  it('given both weights 0, when reading, then everything counts as the primary', () => {
    const live = split([
      { service: 'podinfo-primary', weight: 0 },
      { service: 'podinfo-canary', weight: 0 },
    ]);
    expect(routesFromSplit(live, newTestCanary())).toMatchObject({ primaryWeight: 100, canaryWeight: 0 });
  });

  it('given a split without the canary backend, when reading, then the error names the split and both backends', () => {
    expect(() =>
      routesFromSplit(split([{ service: 'podinfo-primary', weight: 100 }]), newTestCanary()),
    ).toThrow(
      expect.objectContaining({
        code: 'E_TRAFFICSPLIT_BACKENDS',
        message: expect.stringMatching(
          /TrafficSplit podinfo: spec\.backends must name podinfo-primary and podinfo-canary; found podinfo-primary/,
        ),
      }),
    );
  });

  it('given an unreadable weight, when reading, then the error names the backend field', () => {
    const live = split([
      { service: 'podinfo-canary', weight: 'half' },
      { service: 'podinfo-primary', weight: 50 },
    ]);
    expect(() => routesFromSplit(live, newTestCanary())).toThrow(
      expect.objectContaining({
        code: 'E_TRAFFICSPLIT_WEIGHT',
        message: expect.stringMatching(/TrafficSplit podinfo: spec\.backends\[0\]\.weight is "half"/),
      }),
    );
  });
});
