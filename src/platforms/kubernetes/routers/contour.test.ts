import { describe, expect, it } from 'vitest';
import type { Canary } from '../../../api/schema/canary.js';
import { httpProxySpec, matchConditions, routesFromProxy, type HTTPProxy } from './contour.js';
import { newTestCanary } from './fixtures.test-helper.js';

const dst = (name: string) => ({
  set: [{ name: 'l5d-dst-override', value: `${name}.test.svc.cluster.local:80` }],
});

const abCanary = (match: NonNullable<NonNullable<Canary['spec']['analysis']>['match']>): Canary =>
  newTestCanary({ analysis: { interval: '10s', threshold: 2, iterations: 5, match } });

describe('the HTTPProxy spec (docs/routers/contour.md)', () => {
  it('given a weighted canary at 80/20, when building, then one prefix route sends 80 to the primary and 20 to the canary with Linkerd destination headers', () => {
    expect(httpProxySpec(newTestCanary(), { primaryWeight: 80, canaryWeight: 20 }, undefined)).toEqual({
      routes: [
        {
          conditions: [{ prefix: '/' }],
          services: [
            { name: 'podinfo-primary', port: 80, weight: 80, requestHeadersPolicy: dst('podinfo-primary') },
            { name: 'podinfo-canary', port: 80, weight: 20, requestHeadersPolicy: dst('podinfo-canary') },
          ],
        },
      ],
    });
  });

  it('given --ingress-class and a uri prefix match, when building, then ingressClassName and the prefix condition follow them', () => {
    const canary = newTestCanary({ service: { port: 80, match: [{ uri: { prefix: '/api' } }] } });
    const spec = httpProxySpec(canary, { primaryWeight: 100, canaryWeight: 0 }, 'contour');
    expect(spec.ingressClassName).toBe('contour');
    expect(spec.routes?.[0]?.conditions).toEqual([{ prefix: '/api' }]);
  });

  it('given timeout and retries, when building, then the route has Contour timeout and retry policies with retryOn split', () => {
    const canary = newTestCanary({
      service: {
        port: 80,
        timeout: '15s',
        retries: { attempts: 3, perTryTimeout: '5s', retryOn: 'gateway-error, connect-failure' },
      },
    });
    expect(
      httpProxySpec(canary, { primaryWeight: 100, canaryWeight: 0 }, undefined).routes?.[0],
    ).toMatchObject({
      timeoutPolicy: { response: '15s' },
      retryPolicy: { count: 3, perTryTimeout: '5s', retryOn: ['gateway-error', 'connect-failure'] },
    });
  });

  it('given rewrite and header operations, when building, then the route rewrites the prefix and sets and removes headers', () => {
    const canary = newTestCanary({
      service: {
        port: 80,
        match: [{ uri: { prefix: '/old' } }],
        rewrite: { uri: '/new', authority: 'internal.example.com' },
        headers: {
          request: { add: { 'x-a': '1' }, set: { 'x-b': '2' }, remove: ['x-c'] },
          response: { set: { 'x-served-by': 'vireo' } },
        },
      },
    });
    expect(
      httpProxySpec(canary, { primaryWeight: 100, canaryWeight: 0 }, undefined).routes?.[0],
    ).toMatchObject({
      pathRewritePolicy: { replacePrefix: [{ prefix: '/old', replacement: '/new' }] },
      requestHeadersPolicy: {
        set: [
          { name: 'x-a', value: '1' },
          { name: 'x-b', value: '2' },
          { name: 'Host', value: 'internal.example.com' },
        ],
        remove: ['x-c'],
      },
      responseHeadersPolicy: { set: [{ name: 'x-served-by', value: 'vireo' }] },
    });
  });

  it('given a retryOn condition Contour lacks or a timeout it cannot read, when building, then the error names the field', () => {
    const retry = newTestCanary({
      service: { port: 80, retries: { attempts: 2, retryOn: '5xx,retriable-on-sunday' } },
    });
    expect(() => httpProxySpec(retry, { primaryWeight: 100, canaryWeight: 0 }, undefined)).toThrow(
      expect.objectContaining({
        code: 'E_HTTPPROXY_SPEC',
        message: expect.stringMatching(/spec\.service\.retries\.retryOn has "retriable-on-sunday"/),
      }),
    );
    const timeout = newTestCanary({ service: { port: 80, timeout: 'soon' } });
    expect(() => httpProxySpec(timeout, { primaryWeight: 100, canaryWeight: 0 }, undefined)).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/spec\.service\.timeout is "soon"/) }),
    );
  });
});

describe('A/B testing', () => {
  it('given two match entries, when routing to the canary, then each entry is a route of its own ahead of the primary route', () => {
    const canary = abCanary([
      { headers: { 'x-canary': { exact: 'insider' } } },
      { headers: { cookie: { suffix: 'canary=always' }, 'user-agent': { prefix: 'Mozilla/5.0 (X11' } } },
    ]);
    const spec = httpProxySpec(canary, { primaryWeight: 0, canaryWeight: 100 }, undefined);
    expect(spec.routes?.map((route) => route.conditions)).toEqual([
      [{ prefix: '/' }, { header: { name: 'x-canary', exact: 'insider' } }],
      [
        { prefix: '/' },
        { header: { name: 'cookie', regex: '.*canary=always$' } },
        { header: { name: 'user-agent', regex: '^Mozilla/5\\.0 \\(X11.*' } },
      ],
      [{ prefix: '/' }],
    ]);
    expect(spec.routes?.map((route) => route.services.map((service) => service.weight))).toEqual([
      [0, 100],
      [0, 100],
      [100, 0],
    ]);
  });

  it('given A/B routes in force, when reading, then the first route gives 0/100', () => {
    const canary = abCanary([{ headers: { 'x-canary': { exact: 'insider' } } }]);
    const proxy: HTTPProxy = {
      metadata: { name: 'podinfo' },
      spec: httpProxySpec(canary, { primaryWeight: 0, canaryWeight: 100 }, undefined),
    };
    expect(routesFromProxy(proxy, canary)).toEqual({ primaryWeight: 0, canaryWeight: 100, mirrored: false });
  });

  it('given query parameters, when building, then they become queryParameter conditions; an entry with nothing to match is an error naming it', () => {
    expect(matchConditions({ queryParams: { beta: { exact: 'on' } } }, 0)).toEqual([
      { queryParameter: { name: 'beta', exact: 'on' } },
    ]);
    expect(() => matchConditions({ sourceLabels: { app: 'x' } }, 2)).toThrow(
      expect.objectContaining({
        code: 'E_HTTPPROXY_SPEC',
        message: expect.stringMatching(/spec\.analysis\.match\[2\]/),
      }),
    );
  });
});

describe('reading the weights back', () => {
  it('given a route without the primary, when reading, then the error names the HTTPProxy and the service', () => {
    const proxy: HTTPProxy = {
      metadata: { name: 'podinfo' },
      spec: {
        routes: [{ conditions: [{ prefix: '/' }], services: [{ name: 'other', port: 80, weight: 100 }] }],
      },
    };
    expect(() => routesFromProxy(proxy, newTestCanary())).toThrow(
      expect.objectContaining({
        code: 'E_HTTPPROXY_ROUTES',
        message: expect.stringMatching(
          /HTTPProxy podinfo: spec\.routes\[0\]\.services has no podinfo-primary/,
        ),
      }),
    );
  });
});
