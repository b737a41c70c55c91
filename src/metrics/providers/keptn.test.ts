/**
 * Query parsing, configuration and API-version discovery. The provider against a real
 * kube-apiserver (KeptnMetric values, Analyses created, completed and deleted) is in
 * test/cluster/keptn-provider.test.ts.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { jsonAnswer as json, recordingServers, type Answer } from '../../../test/support/recording-server.js';
import { MetricProviderConfigError, MetricQueryError, NoValuesFoundError } from '../errors.js';
import { KeptnProvider, parseKeptnQuery } from './keptn.js';

const server = recordingServers();

const settings = { source: 'MetricTemplate istio-system/response-time', interval: '1m' };

function kubeConfigFor(url: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    // client-node refuses a plain-http server unless skipTLSVerify is set.
    clusters: [{ name: 'test', server: url, skipTLSVerify: true }],
    users: [{ name: 'vireo', token: 'sa-token' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'vireo' }],
    currentContext: 'test',
  });
  return kubeConfig;
}

const notFound = (message: string): Answer =>
  json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason: 'NotFound', code: 404 });
const resourceList = (version: string): Answer =>
  json(200, {
    kind: 'APIResourceList',
    groupVersion: `metrics.keptn.sh/${version}`,
    resources: [{ name: 'keptnmetrics', namespaced: true, kind: 'KeptnMetric', verbs: ['get'] }],
  });

describe('Keptn queries', () => {
  it.each([
    [
      'keptnmetric/my-namespace/response-time',
      { kind: 'keptnmetric', namespace: 'my-namespace', name: 'response-time' },
    ],
    // Flagger's documented example carries a timeframe and arguments, which a KeptnMetric ignores.
    [
      'keptnmetric/my-namespace/response-time/2m/reporter=destination',
      { kind: 'keptnmetric', namespace: 'my-namespace', name: 'response-time' },
    ],
    ['KeptnMetrics/ns/m\n', { kind: 'keptnmetric', namespace: 'ns', name: 'm' }],
    ['analysis/ns/slo', { kind: 'analysis', namespace: 'ns', definition: 'slo', timeframe: '1m', args: {} }],
    [
      'analyses/ns/slo/5m',
      { kind: 'analysis', namespace: 'ns', definition: 'slo', timeframe: '5m', args: {} },
    ],
    [
      'analysis/ns/slo/1h30m/workload=podinfo;Path=/api/v1;empty=;',
      {
        kind: 'analysis',
        namespace: 'ns',
        definition: 'slo',
        timeframe: '1h30m',
        args: { workload: 'podinfo', Path: '/api/v1', empty: '' },
      },
    ],
    [
      'analysis/ns/slo//a=b=c',
      { kind: 'analysis', namespace: 'ns', definition: 'slo', timeframe: '1m', args: { a: 'b=c' } },
    ],
  ])('reads %j', (query, expected) => {
    expect(parseKeptnQuery(query)).toEqual(expected);
  });

  it.each([
    ['', /the namespace and the name are required/],
    ['keptnmetric/ns', /the namespace and the name are required/],
    ['keptnmetric//name', /the namespace and the name are required/],
    ['prometheus/ns/name', /the type "prometheus" is neither keptnmetric nor analysis/],
    ['analysis/ns/slo/soon', /the timeframe "soon" is not a duration such as 5m/],
    ['analysis/ns/slo/5m/novalue', /the argument "novalue" is not key=value/],
    ['analysis/ns/slo/5m/=x', /the argument "=x" is not key=value/],
  ])('refuses %j, naming the expected format', (query, why) => {
    expect(() => parseKeptnQuery(query)).toThrow(MetricProviderConfigError);
    expect(() => parseKeptnQuery(query)).toThrow(why);
    expect(() => parseKeptnQuery(query)).toThrow(
      'expected keptnmetric/<namespace>/<name> or analysis/<namespace>/<analysis definition>/<timeframe>/<key1=value1;key2=value2>',
    );
  });
});

describe('Keptn provider (API discovery and errors, against a stand-in API server)', () => {
  it('needs Kubernetes access', () => {
    expect(() => new KeptnProvider(settings)).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate istio-system/response-time: keptn reads Keptn resources in the cluster, but Vireo has no Kubernetes access here (no kubeconfig)',
      ),
    );
  });

  it('uses metrics.keptn.sh/v1beta1 when v1 is not served, with the kubeconfig token', async () => {
    const api = await server((request) => {
      if (request.path === '/apis/metrics.keptn.sh/v1')
        return notFound('the server could not find the requested resource');
      if (request.path === '/apis/metrics.keptn.sh/v1beta1') return resourceList('v1beta1');
      return json(200, {
        apiVersion: 'metrics.keptn.sh/v1beta1',
        kind: 'KeptnMetric',
        metadata: { name: 'response-time', namespace: 'ns' },
        status: { value: '0.25', rawValue: 'e30=' },
      });
    });
    const provider = new KeptnProvider(settings, { kubeConfig: kubeConfigFor(api.url) });
    expect(await provider.queryValue('keptnmetric/ns/response-time')).toBe(0.25);
    expect(api.requests.map((request) => request.path)).toEqual([
      '/apis/metrics.keptn.sh/v1',
      '/apis/metrics.keptn.sh/v1beta1',
      '/apis/metrics.keptn.sh/v1beta1/namespaces/ns/keptnmetrics/response-time',
    ]);
    expect(api.requests[2]?.headers.authorization).toBe('Bearer sa-token');
    // The version is looked up once per provider.
    await provider.queryValue('keptnmetric/ns/response-time');
    expect(api.requests).toHaveLength(4);
  });

  it('says Keptn is missing when neither version is served, and is then offline', async () => {
    const api = await server(() => notFound('the server could not find the requested resource'));
    const provider = new KeptnProvider(settings, { kubeConfig: kubeConfigFor(api.url) });
    const expected = new MetricQueryError(
      "keptn: the cluster serves neither metrics.keptn.sh/v1 nor metrics.keptn.sh/v1beta1: is Keptn's metrics operator installed?",
    );
    await expect(provider.queryValue('keptnmetric/ns/m')).rejects.toThrow(expected);
    await expect(provider.isOnline()).rejects.toThrow(expected);
  });

  it('is online when the v1 API is served', async () => {
    const api = await server(() => resourceList('v1'));
    expect(await new KeptnProvider(settings, { kubeConfig: kubeConfigFor(api.url) }).isOnline()).toBe(true);
    expect(api.requests.map((request) => request.path)).toEqual(['/apis/metrics.keptn.sh/v1']);
  });

  it("reports the API server's message for a missing KeptnMetric and a forbidden one", async () => {
    const missing = await server((request) =>
      request.path.endsWith('/v1')
        ? resourceList('v1')
        : notFound('keptnmetrics.metrics.keptn.sh "response-time" not found'),
    );
    await expect(
      new KeptnProvider(settings, { kubeConfig: kubeConfigFor(missing.url) }).queryValue(
        'keptnmetric/ns/response-time',
      ),
    ).rejects.toThrow(
      new MetricQueryError(
        'keptn: reading KeptnMetric ns/response-time failed with HTTP 404: keptnmetrics.metrics.keptn.sh "response-time" not found: check the namespace and the name in the query',
        { status: 404 },
      ),
    );
    const forbidden = await server((request) =>
      request.path.endsWith('/v1')
        ? resourceList('v1')
        : json(403, {
            kind: 'Status',
            status: 'Failure',
            message:
              'keptnmetrics.metrics.keptn.sh "m" is forbidden: User "system:serviceaccount:flagger-system:vireo" cannot get resource "keptnmetrics" in API group "metrics.keptn.sh" in the namespace "ns"',
            reason: 'Forbidden',
            code: 403,
          }),
    );
    const error = (await new KeptnProvider(settings, { kubeConfig: kubeConfigFor(forbidden.url) })
      .queryValue('keptnmetric/ns/m')
      .catch((caught: unknown) => caught)) as MetricQueryError;
    expect(error).toBeInstanceOf(MetricQueryError);
    expect(error.status).toBe(403);
    expect(error.message).toMatch(
      /HTTP 403: .* is forbidden: .*: grant Vireo get\/create\/delete on metrics.keptn.sh/,
    );
    expect(error.message).not.toContain('sa-token');
  });

  it("turns a KeptnMetric without a value into NoValuesFoundError with Keptn's error, and junk into MetricQueryError", async () => {
    const pending = await server((request) =>
      request.path.endsWith('/v1')
        ? resourceList('v1')
        : json(200, { kind: 'KeptnMetric', status: { value: '', errMsg: 'client_error: 400 Bad Request' } }),
    );
    await expect(
      new KeptnProvider(settings, { kubeConfig: kubeConfigFor(pending.url) }).queryValue('keptnmetric/ns/m'),
    ).rejects.toThrow(
      new NoValuesFoundError(
        'keptn: no values found (KeptnMetric ns/m has no status.value yet; Keptn says: client_error: 400 Bad Request): is the canary receiving traffic, and does the query select its series?',
      ),
    );
    const junk = await server((request) =>
      request.path.endsWith('/v1')
        ? resourceList('v1')
        : json(200, { kind: 'KeptnMetric', status: { value: 'fast' } }),
    );
    await expect(
      new KeptnProvider(settings, { kubeConfig: kubeConfigFor(junk.url) }).queryValue('keptnmetric/ns/m'),
    ).rejects.toThrow(/has a status.value that is not a number: fast/);
  });

  it('bounds a hanging API server and reports an unreachable one', async () => {
    const hanging = await server(() => ({ status: 200, hang: true }));
    await expect(
      new KeptnProvider(settings, { kubeConfig: kubeConfigFor(hanging.url), timeoutMs: 100 }).queryValue(
        'keptnmetric/ns/m',
      ),
    ).rejects.toThrow(/keptn: no answer from the Kubernetes API within the deadline/);
    await expect(
      new KeptnProvider(settings, { kubeConfig: kubeConfigFor('http://127.0.0.1:1') }).queryValue(
        'keptnmetric/ns/m',
      ),
    ).rejects.toThrow(/keptn: reading the metrics.keptn.sh\/v1 API failed: .*ECONNREFUSED/);
  });

  it('refuses a malformed query before calling the API server', async () => {
    const api = await server(() => resourceList('v1'));
    await expect(
      new KeptnProvider(settings, { kubeConfig: kubeConfigFor(api.url) }).queryValue('keptnmetric/ns'),
    ).rejects.toBeInstanceOf(MetricProviderConfigError);
    expect(api.requests).toHaveLength(0);
  });
});
