import { describe, expect, it } from 'vitest';
import { RESOURCES } from '../resources.js';
import { newTestCanary, newTestIngress } from './fixtures.test-helper.js';
import { newMeshStore } from './mesh-store.test-helper.js';
import {
  SKIPPER_BACKEND_WEIGHTS,
  SKIPPER_PREDICATE,
  SkipperRouter,
  skipperCanarySpec,
  skipperPredicate,
  skipperRoutesOf,
} from './skipper.js';
import type { Ingress } from './types.js';

const routes = (primaryWeight: number, canaryWeight: number) => ({
  primaryWeight,
  canaryWeight,
  mirrored: false,
});
const ingressRef = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'podinfo' };

describe('skipper canary Ingress (docs/routers/skipper.md)', () => {
  it('given a path to podinfo and one to assets, when cloning, then the podinfo path becomes primary plus a canary twin and assets stays', () => {
    const paths = skipperCanarySpec(newTestIngress(), 'podinfo').rules?.[0]?.http?.paths ?? [];
    expect(paths.map((path) => [path.path, path.backend.service?.name, path.backend.service?.port])).toEqual([
      ['/', 'podinfo-primary', { number: 80 }],
      ['/', 'podinfo-canary', { number: 80 }],
      ['/static', 'assets', { number: 80 }],
    ]);
  });

  it('given no path to the apex, when cloning, then E_INGRESS_BACKEND names the Ingress and the Service', () => {
    expect(() => skipperCanarySpec(newTestIngress(), 'web')).toThrow(
      expect.objectContaining({
        code: 'E_INGRESS_BACKEND',
        message: expect.stringMatching(/Ingress podinfo .*Service web/),
      }),
    );
  });

  it('given the user predicate, when routing, then Weight(100) leads it with traffic and False() at 0, never stacking', () => {
    expect(skipperPredicate(undefined, 10)).toBe('Weight(100)');
    expect(skipperPredicate(undefined, 0)).toBe('False()');
    expect(skipperPredicate('Header("X-Env", "prod")', 10)).toBe('Weight(100) && Header("X-Env", "prod")');
    expect(skipperPredicate('False() && Header("X-Env", "prod")', 10)).toBe(
      'Weight(100) && Header("X-Env", "prod")',
    );
    expect(skipperPredicate('Weight(100) && Path("/x")', 0)).toBe('False() && Path("/x")');
  });

  it('given backend weights, when reading, then the routes follow, and unreadable JSON is E_MESH_WEIGHTS naming the annotation', () => {
    const ingress = (value: string): Ingress => ({
      metadata: { name: 'podinfo-canary', annotations: { [SKIPPER_BACKEND_WEIGHTS]: value } },
    });
    expect(skipperRoutesOf(ingress('{"podinfo-primary":70,"podinfo-canary":30}'), newTestCanary())).toEqual(
      routes(70, 30),
    );
    expect(() => skipperRoutesOf(ingress('{oops'), newTestCanary())).toThrow(
      expect.objectContaining({
        code: 'E_MESH_WEIGHTS',
        message: expect.stringContaining(`Ingress podinfo-canary annotation ${SKIPPER_BACKEND_WEIGHTS}`),
      }),
    );
  });
});

describe('SkipperRouter', () => {
  const given = () => {
    const store = newMeshStore();
    store.put(RESOURCES.ingresses, newTestIngress());
    return { store, router: new SkipperRouter(store.deps), canary: newTestCanary({ ingressRef }) };
  };
  const annotations = (store: ReturnType<typeof newMeshStore>) =>
    store.object<Ingress>(RESOURCES.ingresses, 'test', 'podinfo-canary')?.metadata.annotations ?? {};

  it('given the user Ingress, when reconciling, routing and finalizing, then the canary Ingress goes False() → Weight(100) → False() and the user Ingress is never written', async () => {
    const { store, router, canary } = given();
    await router.reconcile(canary);
    expect(annotations(store)).toMatchObject({
      [SKIPPER_BACKEND_WEIGHTS]: '{"podinfo-primary":100,"podinfo-canary":0}',
      [SKIPPER_PREDICATE]: 'False()',
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
      'nginx.ingress.kubernetes.io/rewrite-target': '/',
    });
    expect(annotations(store)).not.toHaveProperty(['kubectl.kubernetes.io/last-applied-configuration']);
    await router.setRoutes(canary, routes(80, 20));
    expect(annotations(store)[SKIPPER_PREDICATE]).toBe('Weight(100)');
    expect(await router.getRoutes(canary)).toEqual(routes(80, 20));
    await router.finalize(canary);
    expect(annotations(store)).toMatchObject({
      [SKIPPER_BACKEND_WEIGHTS]: '{"podinfo-primary":100,"podinfo-canary":0}',
      [SKIPPER_PREDICATE]: 'False()',
    });
    expect(store.writes.filter((write) => write.endsWith(' podinfo'))).toEqual([]);
  });

  it('given an A/B canary, when reconciling or routing, then E_INGRESS_MATCH names spec.analysis.match and nothing is written', async () => {
    const { store, router } = given();
    const ab = newTestCanary({
      ingressRef,
      analysis: {
        interval: '10s',
        threshold: 2,
        iterations: 5,
        match: [{ headers: { 'x-canary': { exact: 'a' } } }],
      },
    });
    for (const attempt of [() => router.reconcile(ab), () => router.setRoutes(ab, routes(0, 100))]) {
      await expect(attempt()).rejects.toMatchObject({
        code: 'E_INGRESS_MATCH',
        message: expect.stringContaining(
          'spec.analysis.match is set, but the skipper provider cannot route by header',
        ),
      });
    }
    expect(store.writes).toEqual([]);
  });

  it('given no ingressRef, when reconciling, then E_INGRESS_REF names the field', async () => {
    await expect(new SkipperRouter(newMeshStore().deps).reconcile(newTestCanary())).rejects.toMatchObject({
      code: 'E_INGRESS_REF',
      message: expect.stringContaining('skipper provider needs spec.ingressRef'),
    });
  });
});
