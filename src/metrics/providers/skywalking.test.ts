import { describe, expect, it } from 'vitest';
import { jsonAnswer as json, recordingServers, type Answer } from '../../../test/support/recording-server.js';
import {
  MetricProviderConfigError,
  MetricQueryError,
  MultipleValuesError,
  NoValuesFoundError,
} from '../errors.js';
import type { ProviderSettings } from '../provider.js';
import { SkyWalkingProvider, minuteDuration } from './skywalking.js';

const server = recordingServers();

// The query of Flagger's documentation (test/fixtures/flagger/docs/metrics-14.yaml), rendered.
const APDEX_QUERY = `query queryData($duration: Duration!) {
  service_apdex: readMetricsValues(
    condition: { name: "service_apdex", entity: { scope: Service, serviceName: "podinfo", normal: true } },
    duration: $duration) {
      label values { values { value } }
    }
}`;

const NOW = new Date('2026-11-23T20:40:30Z');
const now = (): Date => NOW;

/** readMetricsValues as the OAP answers it: one value per minute bucket, oldest first. */
const metricsValues = (...values: (number | null)[]): Answer =>
  json(200, {
    data: { service_apdex: { label: null, values: { values: values.map((value) => ({ value })) } } },
  });

function settings(address: string, extra: Partial<ProviderSettings> = {}): ProviderSettings {
  return { source: 'MetricTemplate istio-system/apdex', address, interval: '1m', ...extra };
}

describe('SkyWalking provider', () => {
  it('POSTs the query with $duration from now − interval to now at MINUTE step', async () => {
    const oap = await server(() => metricsValues(9950, 9990));
    const provider = new SkyWalkingProvider(settings(oap.url, { interval: '5m' }), { now });
    expect(await provider.queryValue(APDEX_QUERY)).toBe(9950);
    const [request] = oap.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/graphql');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers.authorization).toBeUndefined();
    expect(JSON.parse(request?.body ?? '')).toEqual({
      query: APDEX_QUERY,
      variables: { duration: { start: '2026-11-23 2035', end: '2026-11-23 2040', step: 'MINUTE' } },
    });
  });

  it('writes durations in UTC with zero padding', () => {
    expect(minuteDuration(new Date('2026-01-02T03:04:59Z'), new Date('2026-01-02T03:05:00Z'))).toEqual({
      start: '2026-01-02 0304',
      end: '2026-01-02 0305',
      step: 'MINUTE',
    });
  });

  it('keeps a path prefix of the address', async () => {
    const oap = await server(() => metricsValues(1));
    await new SkyWalkingProvider(settings(`${oap.url}/oap/`), { now }).queryValue(APDEX_QUERY);
    expect(oap.requests[0]?.path).toBe('/oap/graphql');
  });

  it('takes the first bucket with a value, skipping null and empty buckets, as Flagger does', async () => {
    const oap = await server(() =>
      json(200, {
        data: {
          service_apdex: {
            values: {
              values: [{ value: null }, { value: 0, isEmptyValue: true }, { value: 9800 }, { value: 0 }],
            },
          },
        },
      }),
    );
    expect(await new SkyWalkingProvider(settings(oap.url), { now }).queryValue(APDEX_QUERY)).toBe(9800);
  });

  it('reads a labeled query that answers a list with one series', async () => {
    const oap = await server(() =>
      json(200, { data: { p99: [{ label: 'P99', values: { values: [{ value: '250' }] } }] } }),
    );
    expect(await new SkyWalkingProvider(settings(oap.url), { now }).queryValue('query { p99 }')).toBe(250);
  });

  it('turns all-null buckets, a null field and an empty list into NoValuesFoundError', async () => {
    for (const answer of [
      metricsValues(null, null),
      metricsValues(),
      json(200, { data: { service_apdex: null } }),
      json(200, { data: { p99: [] } }),
    ]) {
      const oap = await server(() => answer);
      await expect(
        new SkyWalkingProvider(settings(oap.url), { now }).queryValue(APDEX_QUERY),
      ).rejects.toBeInstanceOf(NoValuesFoundError);
    }
    const oap = await server(() => metricsValues(null));
    await expect(new SkyWalkingProvider(settings(oap.url), { now }).queryValue(APDEX_QUERY)).rejects.toThrow(
      'skywalking: no values found (service_apdex has no value between 2026-11-23 2039 and 2026-11-23 2040 UTC)',
    );
  });

  it('refuses several fields or several labeled series with MultipleValuesError', async () => {
    const twoFields = await server(() =>
      json(200, {
        data: { a: { values: { values: [{ value: 1 }] } }, b: { values: { values: [{ value: 2 }] } } },
      }),
    );
    await expect(
      new SkyWalkingProvider(settings(twoFields.url), { now }).queryValue('query { a b }'),
    ).rejects.toThrow(
      new MultipleValuesError('skywalking: the query selected 2 fields (a, b); select exactly one'),
    );
    const twoLabels = await server(() =>
      json(200, {
        data: {
          p: [
            { label: 'P50', values: { values: [{ value: 1 }] } },
            { label: 'P99', values: { values: [{ value: 2 }] } },
          ],
        },
      }),
    );
    await expect(
      new SkyWalkingProvider(settings(twoLabels.url), { now }).queryValue('query { p }'),
    ).rejects.toBeInstanceOf(MultipleValuesError);
  });

  it('reports GraphQL errors with their messages, on 200 and on 400', async () => {
    const graphQlError = {
      data: null,
      errors: [
        {
          message:
            "Validation error of type FieldUndefined: Field 'readMetricValues' in type 'Query' is undefined",
          locations: [{ line: 2, column: 3 }],
        },
      ],
    };
    const ok = await server(() => json(200, graphQlError));
    await expect(new SkyWalkingProvider(settings(ok.url), { now }).queryValue('query { x }')).rejects.toThrow(
      new MetricQueryError(
        "skywalking: the query failed: Validation error of type FieldUndefined: Field 'readMetricValues' in type 'Query' is undefined",
      ),
    );
    const bad = await server(() => json(400, { errors: [{ message: 'Invalid Syntax' }] }));
    await expect(new SkyWalkingProvider(settings(bad.url), { now }).queryValue('query {')).rejects.toThrow(
      `skywalking: ${bad.url}/graphql answered HTTP 400: Invalid Syntax`,
    );
  });

  it('reports a 5xx, odd shapes, non-JSON, an unreachable address and a timeout as MetricQueryError', async () => {
    const failing = await server(() => ({ status: 503, body: 'upstream connect error' }));
    await expect(new SkyWalkingProvider(settings(failing.url), { now }).queryValue('q')).rejects.toThrow(
      /answered HTTP 503: upstream connect error/,
    );
    for (const answer of [
      json(200, {}),
      json(200, null),
      json(200, { data: 'nope' }),
      json(200, { data: {} }),
      json(200, { data: { x: { values: 3 } } }),
      json(200, { data: { x: { values: { values: [{ value: 'fast' }] } } } }),
      json(200, { data: { x: { values: { values: [7] } } } }),
      json(200, { data: { x: { values: { values: [{ value: { n: 1 } }] } } } }),
      json(200, [1]),
    ]) {
      const odd = await server(() => answer);
      await expect(new SkyWalkingProvider(settings(odd.url), { now }).queryValue('q')).rejects.toBeInstanceOf(
        MetricQueryError,
      );
    }
    const html = await server(() => ({ status: 200, body: '<html>login</html>', contentType: 'text/html' }));
    await expect(new SkyWalkingProvider(settings(html.url), { now }).queryValue('q')).rejects.toThrow(
      /is not JSON \(text\/html\)/,
    );
    await expect(
      new SkyWalkingProvider(settings('http://127.0.0.1:1'), { now }).queryValue('q'),
    ).rejects.toThrow(/skywalking: cannot reach http:\/\/127.0.0.1:1\/graphql: .*ECONNREFUSED/);
    const hanging = await server(() => ({ status: 200, hang: true }));
    await expect(
      new SkyWalkingProvider(settings(hanging.url), { now, timeoutMs: 100 }).queryValue('q'),
    ).rejects.toThrow(/no answer within 100 ms/);
  });

  it('sends optional basic auth and headers, and never echoes the password', async () => {
    const oap = await server(() => ({ status: 401, body: 'unauthorized' }));
    const provider = new SkyWalkingProvider(
      settings(oap.url, {
        secret: { username: 'flagger', password: 'pw-secret-1' },
        headers: { 'X-Tenant': ['a'] },
      }),
      { now },
    );
    const error = (await provider.queryValue('q').catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(MetricQueryError);
    expect(error.message).not.toContain('pw-secret-1');
    expect(error.message).not.toContain(Buffer.from('flagger:pw-secret-1').toString('base64'));
    expect(oap.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('flagger:pw-secret-1').toString('base64')}`,
    );
    expect(oap.requests[0]?.headers['x-tenant']).toBe('a');
  });

  it('refuses half a basic-auth pair, a missing address and a bad interval', () => {
    expect(
      () =>
        new SkyWalkingProvider(
          settings('http://oap:12800', { secret: { username: 'flagger' }, secretName: 'oap-auth' }),
        ),
    ).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate istio-system/apdex: the Secret "oap-auth" needs both "username" and "password" for basic auth, or neither',
      ),
    );
    expect(() => new SkyWalkingProvider(settings(''))).toThrow(/skywalking needs spec.provider.address/);
    expect(() => new SkyWalkingProvider(settings('http://oap:12800', { interval: 'soon' }))).toThrow(
      MetricProviderConfigError,
    );
  });

  it('is online when the health check answers 200, or 405 on older OAPs', async () => {
    const healthy = await server(() => ({ status: 200, body: 'healthy' }));
    expect(await new SkyWalkingProvider(settings(healthy.url)).isOnline()).toBe(true);
    expect(healthy.requests[0]).toMatchObject({ method: 'GET', path: '/internal/l7check' });
    const old = await server(() => ({ status: 405 }));
    expect(await new SkyWalkingProvider(settings(old.url)).isOnline()).toBe(true);
    const down = await server(() => ({ status: 503, body: 'not ready' }));
    await expect(new SkyWalkingProvider(settings(down.url)).isOnline()).rejects.toThrow(
      /HTTP 503: not ready/,
    );
  });
});
