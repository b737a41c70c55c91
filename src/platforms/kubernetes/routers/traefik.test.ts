import { describe, expect, it } from 'vitest';
import { newTestCanary } from './fixtures.test-helper.js';
import {
  reconciledSpec,
  routesFromTraefikService,
  weightedServices,
  type TraefikService,
  type WeightedService,
} from './traefik.js';

const traefikService = (services: WeightedService[] | undefined): TraefikService => ({
  apiVersion: 'traefik.io/v1alpha1',
  kind: 'TraefikService',
  metadata: { name: 'podinfo', namespace: 'test' },
  spec: services === undefined ? {} : { weighted: { services } },
});

const entry = (name: string, weight?: number): WeightedService => ({
  name,
  namespace: 'test',
  port: 80,
  ...(weight === undefined ? {} : { weight }),
});

describe('the weighted services of TraefikService podinfo (docs/routers/traefik.md)', () => {
  it('given 100/0, when writing, then only the primary is listed, with its namespace and the service port', () => {
    expect(weightedServices(newTestCanary(), 100, 0)).toEqual([
      { name: 'podinfo-primary', namespace: 'test', port: 80, weight: 100 },
    ]);
  });

  it('given 80/20, when writing, then the canary entry follows the primary with weight 20', () => {
    expect(weightedServices(newTestCanary(), 80, 20)).toEqual([
      { name: 'podinfo-primary', namespace: 'test', port: 80, weight: 80 },
      { name: 'podinfo-canary', namespace: 'test', port: 80, weight: 20 },
    ]);
  });

  it('given spec.service.name, when writing, then the entries are named after it, not the target', () => {
    const canary = newTestCanary({ service: { name: 'web', port: 8080 } });
    expect(weightedServices(canary, 0, 100).map((service) => [service.name, service.port])).toEqual([
      ['web-primary', 8080],
      ['web-canary', 8080],
    ]);
  });
});

describe('routesFromTraefikService', () => {
  it('given primary 70 and canary 30, when reading, then the routes are 70/30', () => {
    const service = traefikService([entry('podinfo-primary', 70), entry('podinfo-canary', 30)]);
    expect(routesFromTraefikService(service, newTestCanary())).toEqual({
      primaryWeight: 70,
      canaryWeight: 30,
      mirrored: false,
    });
  });

  it('given no canary entry, when reading, then the canary gets 0', () => {
    expect(
      routesFromTraefikService(traefikService([entry('podinfo-primary', 100)]), newTestCanary()),
    ).toEqual({
      primaryWeight: 100,
      canaryWeight: 0,
      mirrored: false,
    });
  });

  it('given weights edited by hand to 3 and 1, when reading, then the canary share Traefik applies (25%) is reported', () => {
    const service = traefikService([entry('podinfo-primary', 3), entry('podinfo-canary', 1)]);
    expect(routesFromTraefikService(service, newTestCanary())).toMatchObject({
      primaryWeight: 75,
      canaryWeight: 25,
    });
  });

  it('given no primary entry, when reading, then the error names the TraefikService and the missing entry', () => {
    expect(() => routesFromTraefikService(traefikService([entry('other', 100)]), newTestCanary())).toThrow(
      expect.objectContaining({
        code: 'E_TRAEFIK_SERVICE',
        message: expect.stringMatching(/TraefikService podinfo has no entry for podinfo-primary/),
      }),
    );
  });

  it('given a weight that is not a whole number up to 100, when reading, then the error names the entry', () => {
    for (const weight of [12.5, -1, 101]) {
      expect(() =>
        routesFromTraefikService(
          traefikService([entry('podinfo-primary', 90), entry('podinfo-canary', weight)]),
          newTestCanary(),
        ),
      ).toThrow(
        expect.objectContaining({
          code: 'E_TRAEFIK_WEIGHT',
          message: expect.stringMatching(/weight of podinfo-canary .* is -?[0-9.]+, not a whole number/),
        }),
      );
    }
  });
});

describe('reconciledSpec', () => {
  it('given no TraefikService, when reconciling, then it starts with the primary at 100', () => {
    expect(reconciledSpec(undefined, newTestCanary())).toEqual({
      weighted: { services: [{ name: 'podinfo-primary', namespace: 'test', port: 80, weight: 100 }] },
    });
  });

  it('given 60/40 in force and the service port changed, when reconciling, then the port follows and the weights stay', () => {
    const current = traefikService([
      { ...entry('podinfo-primary', 60), port: 9898 },
      { ...entry('podinfo-canary', 40), port: 9898 },
    ]);
    expect(reconciledSpec(current, newTestCanary())).toEqual({
      weighted: {
        services: [
          { name: 'podinfo-primary', namespace: 'test', port: 80, weight: 60 },
          { name: 'podinfo-canary', namespace: 'test', port: 80, weight: 40 },
        ],
      },
    });
  });

  it("given the user's own TraefikService (mirroring, no primary entry), when reconciling, then it routes 100% to the primary", () => {
    const current: TraefikService = {
      ...traefikService(undefined),
      spec: { mirroring: { name: 'podinfo', port: 80 } },
    };
    expect(reconciledSpec(current, newTestCanary())).toEqual({
      weighted: { services: [{ name: 'podinfo-primary', namespace: 'test', port: 80, weight: 100 }] },
    });
  });
});
