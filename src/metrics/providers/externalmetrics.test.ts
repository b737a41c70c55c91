import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterPki, type ClusterPki } from '../../../test/support/cluster-pki.js';
import { jsonAnswer as json, recordingServers, type Answer } from '../../../test/support/recording-server.js';
import { MetricProviderConfigError, MetricQueryError, NoValuesFoundError } from '../errors.js';
import type { ProviderSettings } from '../provider.js';
import { ExternalMetricsProvider, parseExternalMetricQuery, parseQuantity } from './externalmetrics.js';

const server = recordingServers();

const KUBE_TOKEN = 'kube-sa-token-123';

/**
 * A kubeconfig such as Vireo gets in-cluster: one server, a ServiceAccount token. (client-node
 * refuses a plain-http server unless skipTLSVerify is set, so the local stand-ins set it.)
 */
function kubeConfigFor(serverUrl: string, user: Record<string, string> = { token: KUBE_TOKEN }): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'test', server: serverUrl, skipTLSVerify: serverUrl.startsWith('http:') }],
    users: [{ name: 'vireo', ...user }],
    contexts: [{ name: 'test', cluster: 'test', user: 'vireo' }],
    currentContext: 'test',
  });
  return kubeConfig;
}

function settings(extra: Partial<ProviderSettings> = {}): ProviderSettings {
  return { source: 'MetricTemplate test/queue-depth', interval: '1m', ...extra };
}

/** An ExternalMetricValueList as the API answers it. */
const valueList = (...values: string[]): Answer =>
  json(200, {
    kind: 'ExternalMetricValueList',
    apiVersion: 'external.metrics.k8s.io/v1beta1',
    metadata: {},
    items: values.map((value, index) => ({
      metricName: 'http_requests',
      metricLabels: { app: 'podinfo', pod: `p${index}` },
      timestamp: '2026-11-23T20:40:00Z',
      window: 60,
      value,
    })),
  });
const notFound = json(404, {
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message: 'the server could not find the requested resource',
  reason: 'NotFound',
  details: {},
  code: 404,
});

describe('Kubernetes quantities', () => {
  it.each([
    ['12', 12],
    ['-3', -3],
    ['+4.5', 4.5],
    ['.5', 0.5],
    ['1.', 1],
    ['250m', 0.25],
    ['1500u', 0.0015],
    ['3n', 3e-9],
    ['1.5k', 1500],
    ['2M', 2e6],
    ['1G', 1e9],
    ['1T', 1e12],
    ['1P', 1e15],
    ['1E', 1e18],
    ['3Ki', 3072],
    ['1.5Mi', 1.5 * 1024 * 1024],
    ['1Gi', 2 ** 30],
    ['1Ei', 2 ** 60],
    ['12e-3', 0.012],
    ['1E6', 1e6],
    ['5e0', 5],
    [' 7 ', 7],
  ])('reads %s as %d', (text, expected) => {
    expect(parseQuantity(text)).toBeCloseTo(expected, 12);
  });

  it.each(['', 'm', 'abc', '1.2.3', '1KB', '1ki', '1 k', '1e', 'e3', '--1', '1mi', 'NaN', 'Infinity'])(
    'refuses %j',
    (text) => {
      expect(parseQuantity(text)).toBeUndefined();
    },
  );
});

describe('external metrics queries', () => {
  it.each([
    ['default/myMetric?labelSelector=label1%3Dvalue1', 'default', 'myMetric', 'label1=value1'],
    ['prod/queue_depth', 'prod', 'queue_depth', ''],
    ['/metric_only', 'default', 'metric_only', ''],
    ['metric_only\n', 'default', 'metric_only', ''],
    ['ns/m?labelSelector=app=podinfo,env in (prod,canary)', 'ns', 'm', 'app=podinfo,env in (prod,canary)'],
    ['ns/m?labelSelector=env+in+%28prod%29', 'ns', 'm', 'env in (prod)'],
  ])('reads %j', (query, namespace, metric, labelSelector) => {
    expect(parseExternalMetricQuery(query)).toEqual({ namespace, metric, labelSelector });
  });

  it.each(['', '/', 'namespaceonly/', 'a/b/c', 'ns/m?labelselector=app%3Dx', 'ns/m?selector=x'])(
    'refuses %j naming the expected format',
    (query) => {
      expect(() => parseExternalMetricQuery(query)).toThrow(MetricProviderConfigError);
      expect(() => parseExternalMetricQuery(query)).toThrow(
        /expected <namespace>\/<metric>\?labelSelector=<label selector>/,
      );
    },
  );
});

describe('External metrics provider', () => {
  it('GETs the metric with the kubeconfig token and an encoded labelSelector, and reads the quantity', async () => {
    const api = await server(() => valueList('250m'));
    const provider = new ExternalMetricsProvider(settings(), { kubeConfig: kubeConfigFor(api.url) });
    expect(
      await provider.queryValue('test/http_requests?labelSelector=app%3Dpodinfo%2Cenv%20in%20(prod)'),
    ).toBe(0.25);
    const [request] = api.requests;
    expect(request?.method).toBe('GET');
    const url = new URL(request?.path ?? '', api.url);
    expect(url.pathname).toBe('/apis/external.metrics.k8s.io/v1beta1/namespaces/test/http_requests');
    expect(url.searchParams.get('labelSelector')).toBe('app=podinfo,env in (prod)');
    expect(request?.path).toContain('labelSelector=app%3Dpodinfo%2Cenv+in+%28prod%29');
    expect(request?.headers.authorization).toBe(`Bearer ${KUBE_TOKEN}`);
    expect(request?.headers.accept).toBe('application/json');
  });

  it('encodes an unencoded selector and uses the default namespace', async () => {
    const api = await server(() => valueList('12'));
    const provider = new ExternalMetricsProvider(settings(), { kubeConfig: kubeConfigFor(api.url) });
    expect(await provider.queryValue('queue_depth?labelSelector=queue=orders')).toBe(12);
    expect(api.requests[0]?.path).toBe(
      '/apis/external.metrics.k8s.io/v1beta1/namespaces/default/queue_depth?labelSelector=queue%3Dorders',
    );
    const bare = await server(() => valueList('1'));
    await new ExternalMetricsProvider(settings(), { kubeConfig: kubeConfigFor(bare.url) }).queryValue('ns/m');
    expect(bare.requests[0]?.path).toBe('/apis/external.metrics.k8s.io/v1beta1/namespaces/ns/m');
  });

  it('lets spec.provider.address replace the server and the Secret token replace the kubeconfig token', async () => {
    const metricsServer = await server(() => valueList('1.5k'));
    const provider = new ExternalMetricsProvider(
      settings({ address: metricsServer.url, secret: { token: 'datadog-token' }, secretName: 'dca' }),
      { kubeConfig: kubeConfigFor('http://127.0.0.1:1') },
    );
    expect(await provider.queryValue('datadog/nginx.net.request_per_s')).toBe(1500);
    expect(metricsServer.requests[0]?.headers.authorization).toBe('Bearer datadog-token');
  });

  it('writes metric names as path segments, keeping @ and : (Datadog metric names)', async () => {
    const api = await server(() => valueList('1'));
    const provider = new ExternalMetricsProvider(settings(), { kubeConfig: kubeConfigFor(api.url) });
    await provider.queryValue('datadog/datadogmetric@test:podinfo-errors');
    await provider.queryValue('ns/odd name#?labelSelector=a%3Db');
    expect(api.requests.map((request) => request.path)).toEqual([
      '/apis/external.metrics.k8s.io/v1beta1/namespaces/datadog/datadogmetric@test:podinfo-errors',
      '/apis/external.metrics.k8s.io/v1beta1/namespaces/ns/odd%20name%23?labelSelector=a%3Db',
    ]);
  });

  it('keeps the kubeconfig credentials for an address override (the metrics server checks the ServiceAccount)', async () => {
    const metricsServer = await server(() => valueList('3Ki'));
    const provider = new ExternalMetricsProvider(settings({ address: `${metricsServer.url}/prefix` }), {
      kubeConfig: kubeConfigFor('http://127.0.0.1:1'),
    });
    expect(await provider.queryValue('ns/m')).toBe(3072);
    expect(metricsServer.requests[0]?.path).toBe(
      '/prefix/apis/external.metrics.k8s.io/v1beta1/namespaces/ns/m',
    );
    expect(metricsServer.requests[0]?.headers.authorization).toBe(`Bearer ${KUBE_TOKEN}`);
  });

  it('works from an address and a Secret token alone, without a kubeconfig', async () => {
    const metricsServer = await server(() => valueList('7'));
    const provider = new ExternalMetricsProvider(
      settings({ address: metricsServer.url, secret: { token: 't' } }),
    );
    expect(await provider.queryValue('ns/m')).toBe(7);
    expect(metricsServer.requests[0]?.headers.authorization).toBe('Bearer t');
  });

  it('sends basic auth from a kubeconfig user with a password', async () => {
    const api = await server(() => valueList('1'));
    const provider = new ExternalMetricsProvider(settings(), {
      kubeConfig: kubeConfigFor(api.url, { username: 'admin', password: 'pw' }),
    });
    await provider.queryValue('ns/m');
    expect(api.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('admin:pw').toString('base64')}`,
    );
  });

  it('takes the first item of several, as Flagger does', async () => {
    const api = await server(() => valueList('2', '3', '4'));
    const provider = new ExternalMetricsProvider(settings(), { kubeConfig: kubeConfigFor(api.url) });
    expect(await provider.queryValue('ns/m')).toBe(2);
  });

  it('turns an empty list into NoValuesFoundError naming the metric and selector', async () => {
    const api = await server(() => valueList());
    const provider = new ExternalMetricsProvider(settings(), { kubeConfig: kubeConfigFor(api.url) });
    await expect(provider.queryValue('ns/m?labelSelector=app%3Dx')).rejects.toThrow(
      new NoValuesFoundError(
        'externalmetrics: no values found (no m values in namespace ns with labels app=x): is the canary receiving traffic, and does the query select its series?',
      ),
    );
    const nullItems = await server(() => json(200, { kind: 'ExternalMetricValueList', items: null }));
    await expect(
      new ExternalMetricsProvider(settings(), { kubeConfig: kubeConfigFor(nullItems.url) }).queryValue(
        'ns/m',
      ),
    ).rejects.toBeInstanceOf(NoValuesFoundError);
  });

  it('reports a value that is not a quantity and odd answers as MetricQueryError', async () => {
    for (const answer of [
      valueList('fast'),
      json(200, { items: 'x' }),
      json(200, 'list'),
      json(200, { items: [{ metricName: 'm' }] }),
      json(200, { items: [null] }),
    ]) {
      const api = await server(() => answer);
      await expect(
        new ExternalMetricsProvider(settings(), { kubeConfig: kubeConfigFor(api.url) }).queryValue('ns/m'),
      ).rejects.toBeInstanceOf(MetricQueryError);
    }
  });

  it("reports the API's Status message for 404 and 403, and never the token", async () => {
    const api = await server(() => notFound);
    const provider = new ExternalMetricsProvider(settings(), { kubeConfig: kubeConfigFor(api.url) });
    const error = (await provider.queryValue('ns/m').catch((caught: unknown) => caught)) as MetricQueryError;
    expect(error).toBeInstanceOf(MetricQueryError);
    expect(error.status).toBe(404);
    expect(error.message).toBe(
      `externalmetrics: ${api.url}/apis/external.metrics.k8s.io/v1beta1/namespaces/ns/m answered HTTP 404: the server could not find the requested resource`,
    );
    const forbidden = await server(() =>
      json(403, {
        kind: 'Status',
        status: 'Failure',
        message:
          'external.metrics.k8s.io "m" is forbidden: User "system:serviceaccount:flagger-system:vireo" cannot list resource "m" in API group "external.metrics.k8s.io" in the namespace "ns"',
        reason: 'Forbidden',
        code: 403,
      }),
    );
    const denied = (await new ExternalMetricsProvider(settings({ secret: { token: 'secret-tok-9' } }), {
      kubeConfig: kubeConfigFor(forbidden.url),
    })
      .queryValue('ns/m?labelSelector=a%3Db')
      .catch((caught: unknown) => caught)) as Error;
    expect(denied.message).toMatch(/HTTP 403: external.metrics.k8s.io "m" is forbidden/);
    expect(denied.message).not.toContain('secret-tok-9');
    expect(denied.message).not.toContain(KUBE_TOKEN);
    expect(denied.message).not.toContain('labelSelector');
  });

  it('reports 5xx, non-JSON, an unreachable server and a timeout', async () => {
    const failing = await server(() => ({ status: 503, body: 'service unavailable' }));
    await expect(
      new ExternalMetricsProvider(settings(), { kubeConfig: kubeConfigFor(failing.url) }).queryValue('ns/m'),
    ).rejects.toThrow(/HTTP 503: service unavailable/);
    const html = await server(() => ({ status: 200, body: '<html></html>', contentType: 'text/html' }));
    await expect(
      new ExternalMetricsProvider(settings(), { kubeConfig: kubeConfigFor(html.url) }).queryValue('ns/m'),
    ).rejects.toThrow(/is not JSON/);
    await expect(
      new ExternalMetricsProvider(settings(), { kubeConfig: kubeConfigFor('http://127.0.0.1:1') }).queryValue(
        'ns/m',
      ),
    ).rejects.toThrow(/externalmetrics: cannot reach http:\/\/127.0.0.1:1\/apis\/.*ECONNREFUSED/);
    const hanging = await server(() => ({ status: 200, hang: true }));
    await expect(
      new ExternalMetricsProvider(settings(), {
        kubeConfig: kubeConfigFor(hanging.url),
        timeoutMs: 100,
      }).queryValue('ns/m'),
    ).rejects.toThrow(/no answer within 100 ms/);
  });

  it('refuses a malformed query before calling anything', async () => {
    const api = await server(() => valueList('1'));
    const provider = new ExternalMetricsProvider(settings(), { kubeConfig: kubeConfigFor(api.url) });
    await expect(provider.queryValue('a/b/c')).rejects.toBeInstanceOf(MetricProviderConfigError);
    expect(api.requests).toHaveLength(0);
  });

  it('needs a kubeconfig or an address', () => {
    expect(() => new ExternalMetricsProvider(settings())).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate test/queue-depth: externalmetrics needs Kubernetes access (Vireo has no kubeconfig here) or spec.provider.address pointing at an external metrics server',
      ),
    );
  });

  it('is online when the API group answers its discovery document', async () => {
    const api = await server(() =>
      json(200, { kind: 'APIResourceList', groupVersion: 'external.metrics.k8s.io/v1beta1', resources: [] }),
    );
    const provider = new ExternalMetricsProvider(settings(), { kubeConfig: kubeConfigFor(api.url) });
    expect(await provider.isOnline()).toBe(true);
    expect(api.requests[0]).toMatchObject({ method: 'GET', path: '/apis/external.metrics.k8s.io/v1beta1' });
    expect(api.requests[0]?.headers.authorization).toBe(`Bearer ${KUBE_TOKEN}`);
    const missing = await server(() => notFound);
    await expect(
      new ExternalMetricsProvider(settings(), { kubeConfig: kubeConfigFor(missing.url) }).isOnline(),
    ).rejects.toThrow(/HTTP 404: the server could not find the requested resource/);
  });

  describe('over HTTPS with the kubeconfig CA and client certificate', () => {
    let directory: string;
    let pki: ClusterPki;
    let https: Server;
    let url: string;
    const seen: { path: string; clientCertificate: string | undefined }[] = [];

    beforeAll(async () => {
      directory = await mkdtemp(join(tmpdir(), 'vireo-externalmetrics-'));
      pki = await createClusterPki(directory);
      https = createServer(
        {
          cert: await readFile(pki.apiserverServing.certPath),
          key: await readFile(pki.apiserverServing.keyPath),
          ca: await readFile(pki.caCertPath),
          requestCert: true,
          rejectUnauthorized: true,
        },
        (request, response) => {
          const peer = (request.socket as import('node:tls').TLSSocket).getPeerCertificate();
          const commonName: unknown = peer.subject?.CN;
          seen.push({
            path: request.url ?? '',
            clientCertificate: typeof commonName === 'string' ? commonName : undefined,
          });
          response
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ items: [{ metricName: 'm', value: '42' }] }));
        },
      );
      await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
      url = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
    }, 60_000);

    afterAll(async () => {
      https?.closeAllConnections();
      await new Promise<void>((resolve) => (https === undefined ? resolve() : https.close(() => resolve())));
      if (directory !== undefined) await rm(directory, { recursive: true, force: true });
    });

    function certificateKubeConfig(withCa: boolean): KubeConfig {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromOptions({
        clusters: [
          { name: 'test', server: url, skipTLSVerify: false, ...(withCa ? { caFile: pki.caCertPath } : {}) },
        ],
        users: [{ name: 'admin', certFile: pki.admin.certPath, keyFile: pki.admin.keyPath }],
        contexts: [{ name: 'test', cluster: 'test', user: 'admin' }],
        currentContext: 'test',
      });
      return kubeConfig;
    }

    it('verifies the server with the CA and presents the client certificate', async () => {
      const provider = new ExternalMetricsProvider(settings(), { kubeConfig: certificateKubeConfig(true) });
      expect(await provider.queryValue('ns/m')).toBe(42);
      expect(seen.at(-1)).toEqual({
        path: '/apis/external.metrics.k8s.io/v1beta1/namespaces/ns/m',
        clientCertificate: 'vireo-test-admin',
      });
    });

    it('refuses an unknown certificate, unless insecureSkipVerify', async () => {
      await expect(
        new ExternalMetricsProvider(settings(), { kubeConfig: certificateKubeConfig(false) }).queryValue(
          'ns/m',
        ),
      ).rejects.toThrow(/externalmetrics: cannot reach .*certificate/i);
      const insecure = new ExternalMetricsProvider(settings({ insecureSkipVerify: true }), {
        kubeConfig: certificateKubeConfig(false),
      });
      expect(await insecure.queryValue('ns/m')).toBe(42);
    });
  });
});
