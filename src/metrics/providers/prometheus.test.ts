import { describe, expect, it } from 'vitest';
import { jsonAnswer as json, recordingServers, type Answer } from '../../../test/support/recording-server.js';
import {
  MetricProviderConfigError,
  MetricQueryError,
  MultipleValuesError,
  NoValuesFoundError,
} from '../errors.js';
import type { ProviderSettings } from '../provider.js';
import { PrometheusProvider } from './prometheus.js';

const server = recordingServers();

const vector = (...values: string[]): Answer =>
  json(200, {
    status: 'success',
    data: {
      resultType: 'vector',
      result: values.map((value, index) => ({ metric: { pod: `p${index}` }, value: [1_700_000_000, value] })),
    },
  });

function settings(address: string, extra: Partial<ProviderSettings> = {}): ProviderSettings {
  return { source: 'MetricTemplate test/latency', address, interval: '1m', ...extra };
}

describe('Prometheus provider', () => {
  it('sends GET /api/v1/query with the whitespace collapsed and returns the value', async () => {
    const prometheus = await server(() => vector('99.5'));
    const provider = new PrometheusProvider(settings(prometheus.url));
    const value = await provider.queryValue('sum(\n  rate(http_requests_total[1m])\n)\n');
    expect(value).toBe(99.5);
    const [request] = prometheus.requests;
    expect(request?.method).toBe('GET');
    const url = new URL(request?.path ?? '', prometheus.url);
    expect(url.pathname).toBe('/api/v1/query');
    expect(url.searchParams.get('query')).toBe('sum( rate(http_requests_total[1m]) )');
    expect(request?.headers.authorization).toBeUndefined();
  });

  it('keeps a path prefix of the address (Prometheus behind a proxy)', async () => {
    const prometheus = await server(() => vector('1'));
    await new PrometheusProvider(settings(`${prometheus.url}/prometheus/`)).queryValue('up');
    expect(prometheus.requests[0]?.path).toMatch(/^\/prometheus\/api\/v1\/query\?/);
  });

  it('sends the Secret token as a Bearer token', async () => {
    const prometheus = await server(() => vector('1'));
    const provider = new PrometheusProvider(
      settings(prometheus.url, { secret: { token: 's3cr3t' }, secretName: 'prom-auth' }),
    );
    await provider.queryValue('up');
    expect(prometheus.requests[0]?.headers.authorization).toBe('Bearer s3cr3t');
  });

  it('sends username and password as basic auth', async () => {
    const prometheus = await server(() => vector('1'));
    const provider = new PrometheusProvider(
      settings(prometheus.url, { secret: { username: 'ann', password: 'pw:1' }, secretName: 'prom-auth' }),
    );
    await provider.queryValue('up');
    expect(prometheus.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('ann:pw:1').toString('base64')}`,
    );
  });

  it('refuses a Secret with neither token nor username and password, naming the Secret', () => {
    expect(
      () =>
        new PrometheusProvider(
          settings('http://127.0.0.1:1', { secret: { username: 'ann' }, secretName: 'prom-auth' }),
        ),
    ).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate test/latency: the Secret "prom-auth" needs either a "token" key (Bearer) or both "username" and "password" (basic auth)',
      ),
    );
  });

  it('lets spec.provider.headers replace request headers', async () => {
    const prometheus = await server(() => vector('1'));
    const provider = new PrometheusProvider(
      settings(prometheus.url, {
        secret: { token: 'from-secret' },
        headers: { 'X-Scope-OrgID': ['tenant-a'], authorization: ['Bearer from-headers'] },
      }),
    );
    await provider.queryValue('up');
    expect(prometheus.requests[0]?.headers['x-scope-orgid']).toBe('tenant-a');
    expect(prometheus.requests[0]?.headers.authorization).toBe('Bearer from-headers');
  });

  it('takes the last series of a vector, as Flagger does', async () => {
    const prometheus = await server(() => vector('1', '2', '3'));
    expect(await new PrometheusProvider(settings(prometheus.url)).queryValue('x')).toBe(3);
  });

  it('reads scalars', async () => {
    const prometheus = await server(() =>
      json(200, { status: 'success', data: { resultType: 'scalar', result: [1, '42'] } }),
    );
    expect(await new PrometheusProvider(settings(prometheus.url)).queryValue('scalar(x)')).toBe(42);
  });

  it('turns an empty vector and NaN into NoValuesFoundError with a hint', async () => {
    const empty = await server(() => vector());
    await expect(new PrometheusProvider(settings(empty.url)).queryValue('x')).rejects.toThrow(
      new NoValuesFoundError(
        'prometheus: no values found (the query returned an empty vector): is the canary receiving traffic, and does the query select its series?',
      ),
    );
    const nan = await server(() => vector('NaN'));
    await expect(new PrometheusProvider(settings(nan.url)).queryValue('x')).rejects.toBeInstanceOf(
      NoValuesFoundError,
    );
  });

  it('refuses a matrix with MultipleValuesError', async () => {
    const prometheus = await server(() =>
      json(200, { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [] }] } }),
    );
    await expect(new PrometheusProvider(settings(prometheus.url)).queryValue('x[1m]')).rejects.toBeInstanceOf(
      MultipleValuesError,
    );
  });

  it("reports Prometheus' own error text for a bad query", async () => {
    const prometheus = await server(() =>
      json(400, { status: 'error', errorType: 'bad_data', error: '1:5: parse error: unexpected "}"' }),
    );
    const failure = new PrometheusProvider(settings(prometheus.url)).queryValue('sum(}');
    await expect(failure).rejects.toBeInstanceOf(MetricQueryError);
    await expect(failure).rejects.toThrow(
      `prometheus: ${prometheus.url}/api/v1/query answered HTTP 400: bad_data: 1:5: parse error: unexpected "}"`,
    );
  });

  it('reports a non-JSON answer, an unreachable address and a timeout without crashing', async () => {
    const html = await server(() => ({ status: 200, body: '<html>login</html>', contentType: 'text/html' }));
    await expect(new PrometheusProvider(settings(html.url)).queryValue('x')).rejects.toThrow(
      /is not JSON \(text\/html\): <html>login<\/html>/,
    );
    await expect(new PrometheusProvider(settings('http://127.0.0.1:1')).queryValue('x')).rejects.toThrow(
      /prometheus: cannot reach http:\/\/127.0.0.1:1\/api\/v1\/query: .*ECONNREFUSED/,
    );
    const hanging = await server(() => ({ status: 200, hang: true }));
    await expect(
      new PrometheusProvider(settings(hanging.url), { timeoutMs: 100 }).queryValue('x'),
    ).rejects.toThrow(/no answer within 100 ms/);
  });

  it('never puts the token in an error message', async () => {
    const prometheus = await server(() => ({ status: 401, body: 'unauthorized' }));
    const provider = new PrometheusProvider(settings(prometheus.url, { secret: { token: 'tok-123' } }));
    const error = (await provider.queryValue('x').catch((caught: unknown) => caught)) as Error;
    expect(error.message).toContain('HTTP 401: unauthorized');
    expect(error.message).not.toContain('tok-123');
  });

  it('checks that the backend is online with vector(1)', async () => {
    const prometheus = await server(() => vector('1'));
    expect(await new PrometheusProvider(settings(prometheus.url)).isOnline()).toBe(true);
    expect(new URL(prometheus.requests[0]?.path ?? '', prometheus.url).searchParams.get('query')).toBe(
      'vector(1)',
    );
  });

  it('needs an address', () => {
    expect(() => new PrometheusProvider(settings(''))).toThrow(/prometheus needs spec.provider.address/);
  });
});
