import { describe, expect, it } from 'vitest';
import { newTestCanary, newTestIngress } from './fixtures.test-helper.js';
import {
  canaryIngressName,
  canaryIngressSpec,
  initialCanaryAnnotations,
  matchAnnotations,
  routeAnnotations,
  routesFromAnnotations,
} from './nginx.js';

const prefix = 'nginx.ingress.kubernetes.io';
const key = (name: string): string => `${prefix}/${name}`;

const abCanary = (headers: Record<string, Record<string, string>>) =>
  newTestCanary({
    analysis: { interval: '10s', threshold: 2, iterations: 5, match: [{ headers }] },
  });

describe('the canary Ingress (docs/flagger-compatibility.md#32-routers, NGINX)', () => {
  it('given an Ingress routing / to podinfo, when cloning, then that backend goes to podinfo-canary and others stay', () => {
    const spec = canaryIngressSpec(newTestIngress(), 'podinfo');
    const paths = spec.rules?.[0]?.http?.paths ?? [];
    expect(paths.map((path) => path.backend.service?.name)).toEqual(['podinfo-canary', 'assets']);
    expect(spec.ingressClassName).toBe('nginx');
    expect(canaryIngressName('podinfo')).toBe('podinfo-canary');
  });

  it('given a default backend on the service, when cloning, then it is rewritten too', () => {
    const ingress = newTestIngress();
    ingress.spec = { defaultBackend: { service: { name: 'podinfo', port: { number: 80 } } } };
    expect(canaryIngressSpec(ingress, 'podinfo').defaultBackend?.service?.name).toBe('podinfo-canary');
  });

  it('given an Ingress without a backend on the service, when cloning, then the error names the Ingress and the Service', () => {
    expect(() => canaryIngressSpec(newTestIngress(), 'web')).toThrow(
      expect.objectContaining({
        code: 'E_INGRESS_BACKEND',
        message: expect.stringMatching(/Ingress podinfo .*Service web/),
      }),
    );
  });

  it('given the original annotations, when creating, then canary settings and the kubectl record are dropped and weight 0 is set', () => {
    expect(initialCanaryAnnotations(newTestIngress().metadata.annotations, prefix)).toEqual({
      'kubernetes.io/ingress.class': 'nginx',
      [key('rewrite-target')]: '/',
      [key('canary')]: 'true',
      [key('canary-weight')]: '0',
      // As Flagger: Flux neither reverts nor reports the controller's Ingress.
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
      'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
    });
  });

  it('given a custom prefix, when creating, then only that prefix counts as canary settings', () => {
    expect(
      initialCanaryAnnotations({ 'custom.io/canary-weight': '5', [key('canary')]: 'true' }, 'custom.io'),
    ).toEqual({
      [key('canary')]: 'true',
      'custom.io/canary': 'true',
      'custom.io/canary-weight': '0',
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
      'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
    });
  });
});

describe('routeAnnotations', () => {
  it('given a weighted canary, when routing 80/20, then canary-weight is 20 and other annotations stay', () => {
    const current = { [key('canary')]: 'true', [key('canary-weight')]: '0', other: 'kept' };
    expect(routeAnnotations(current, newTestCanary(), 20, prefix)).toEqual({
      [key('canary')]: 'true',
      [key('canary-weight')]: '20',
      other: 'kept',
    });
  });

  it('given A/B by header exact, when routing to the canary, then by-header and by-header-value are set with weight 0', () => {
    const canary = abCanary({ 'x-canary': { exact: 'insider' } });
    expect(routeAnnotations({}, canary, 100, prefix)).toEqual({
      [key('canary')]: 'true',
      [key('canary-weight')]: '0',
      [key('canary-by-header')]: 'x-canary',
      [key('canary-by-header-value')]: 'insider',
    });
  });

  it('given A/B by header regex, when routing, then by-header-pattern carries the regex', () => {
    const canary = abCanary({ 'user-agent': { regex: '.*Firefox.*' } });
    expect(routeAnnotations({}, canary, 100, prefix)).toMatchObject({
      [key('canary-by-header')]: 'user-agent',
      [key('canary-by-header-pattern')]: '.*Firefox.*',
    });
  });

  it('given A/B by cookie, when routing, then by-cookie names the cookie', () => {
    const canary = abCanary({ cookie: { exact: 'canary' } });
    expect(routeAnnotations({}, canary, 100, prefix)).toEqual({
      [key('canary')]: 'true',
      [key('canary-weight')]: '0',
      [key('canary-by-cookie')]: 'canary',
    });
  });

  it('given A/B annotations in force, when routing C=0, then only weight 0 remains', () => {
    const canary = abCanary({ 'x-canary': { exact: 'insider' }, cookie: { exact: 'canary' } });
    const current = routeAnnotations({ other: 'kept' }, canary, 100, prefix);
    expect(routeAnnotations(current, canary, 0, prefix)).toEqual({
      [key('canary')]: 'true',
      [key('canary-weight')]: '0',
      other: 'kept',
    });
  });

  it('given a prefix header match or a cookie without exact, when routing, then the error names the match field', () => {
    expect(() => matchAnnotations([{ headers: { 'x-user': { prefix: 'a' } } }], prefix)).toThrow(
      expect.objectContaining({
        code: 'E_INGRESS_MATCH',
        message: expect.stringMatching(/spec\.analysis\.match\[0\]\.headers\.x-user/),
      }),
    );
    expect(() => matchAnnotations([{}, { headers: { cookie: { regex: 'a' } } }], prefix)).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/match\[1\]\.headers\.cookie/) }),
    );
  });
});

describe('routesFromAnnotations', () => {
  it('given canary-weight 20, when reading, then the routes are 80/20', () => {
    expect(routesFromAnnotations({ [key('canary-weight')]: '20' }, newTestCanary(), prefix, 'x')).toEqual({
      primaryWeight: 80,
      canaryWeight: 20,
      mirrored: false,
    });
  });

  it('given no weight annotation, when reading, then everything goes to the primary', () => {
    expect(routesFromAnnotations(undefined, newTestCanary(), prefix, 'x')).toMatchObject({
      primaryWeight: 100,
      canaryWeight: 0,
    });
  });

  it('given A/B with a by-header or by-cookie annotation, when reading, then the routes are 0/100', () => {
    const canary = abCanary({ cookie: { exact: 'canary' } });
    for (const annotations of [
      { [key('canary-weight')]: '0', [key('canary-by-cookie')]: 'canary' },
      { [key('canary-weight')]: '0', [key('canary-by-header')]: 'x-canary' },
    ]) {
      expect(routesFromAnnotations(annotations, canary, prefix, 'x')).toMatchObject({
        primaryWeight: 0,
        canaryWeight: 100,
      });
    }
    expect(routesFromAnnotations({ [key('canary-weight')]: '0' }, canary, prefix, 'x')).toMatchObject({
      primaryWeight: 100,
    });
  });

  it('given a weighted canary, when a stray by-header annotation exists, then the weight still decides', () => {
    const annotations = { [key('canary-weight')]: '30', [key('canary-by-header')]: 'x' };
    expect(routesFromAnnotations(annotations, newTestCanary(), prefix, 'x').canaryWeight).toBe(30);
  });

  it('given an unreadable weight, when reading, then the error names the Ingress and the annotation', () => {
    expect(() =>
      routesFromAnnotations({ [key('canary-weight')]: 'half' }, newTestCanary(), prefix, 'podinfo-canary'),
    ).toThrow(
      expect.objectContaining({
        code: 'E_INGRESS_WEIGHT',
        message: expect.stringMatching(
          /Ingress podinfo-canary: annotation nginx\.ingress\.kubernetes\.io\/canary-weight/,
        ),
      }),
    );
  });
});
