import { describe, expect, it } from 'vitest';
import {
  jsonAnswer as json,
  recordingServers,
  type Answer,
  type RecordingServer,
} from '../../../test/support/recording-server.js';
import {
  MetricProviderConfigError,
  MetricQueryError,
  MultipleValuesError,
  NoValuesFoundError,
} from '../errors.js';
import type { ProviderSettings } from '../provider.js';
import { NEWRELIC_DEFAULT_ADDRESS, NewRelicProvider } from './newrelic.js';

const server = recordingServers();

// The Insights query API's answer: the results plus metadata about the query.
const insights = (...results: unknown[]): Answer =>
  json(200, {
    results,
    performanceStats: { inspectedCount: 1200, omittedCount: 0, matchCount: 1200, wallClockTime: 23 },
    metadata: {
      eventTypes: ['Metric'],
      eventType: 'Metric',
      openEnded: true,
      beginTime: '2026-11-23T10:00:00Z',
      endTime: '2026-11-23T10:01:00Z',
      beginTimeMillis: 1_795_428_000_000,
      endTimeMillis: 1_795_428_060_000,
      rawSince: '60 SECONDS AGO',
      rawUntil: 'NOW',
      rawCompareWith: '',
      guid: 'a1b2c3',
      routerGuid: 'a1b2c3',
      messages: [],
      contents: [{ function: 'average', attribute: 'duration', simple: true }],
    },
  });

const SECRET = { newrelic_account_id: '1234567', newrelic_query_key: 'NRIQ-secret-query-key' };

function settings(address: string | undefined, extra: Partial<ProviderSettings> = {}): ProviderSettings {
  return {
    source: 'MetricTemplate ingress-nginx/newrelic-error-rate',
    address,
    interval: '1m',
    secret: SECRET,
    secretName: 'newrelic',
    ...extra,
  };
}

function requestUrl(newrelic: RecordingServer, index = 0): URL {
  return new URL(newrelic.requests[index]?.path ?? '', newrelic.url);
}

// The query of Flagger's documentation, as a MetricTemplate renders it.
const DOCS_QUERY = `SELECT
    filter(sum(nginx_ingress_controller_requests), WHERE status >= '500') /
    sum(nginx_ingress_controller_requests) * 100
FROM Metric
WHERE metricName = 'nginx_ingress_controller_requests'
AND ingress = 'podinfo' AND  namespace = 'test'
`;

describe('New Relic provider', () => {
  it('sends GET /v1/accounts/{id}/query with the NRQL, its SINCE window and X-Query-Key', async () => {
    const newrelic = await server(() => insights({ result: 1.25 }));
    const value = await new NewRelicProvider(settings(newrelic.url)).queryValue(DOCS_QUERY);
    expect(value).toBe(1.25);
    const [request] = newrelic.requests;
    expect(request?.method).toBe('GET');
    const url = requestUrl(newrelic);
    expect(url.pathname).toBe('/v1/accounts/1234567/query');
    expect(url.searchParams.get('nrql')).toBe(`${DOCS_QUERY.trim()} SINCE 60 seconds ago`);
    expect(request?.headers['x-query-key']).toBe('NRIQ-secret-query-key');
    expect(request?.headers.accept).toBe('application/json');
  });

  it('sizes SINCE by the interval in whole seconds', async () => {
    const newrelic = await server(() => insights({ count: 5 }));
    await new NewRelicProvider(settings(newrelic.url, { interval: '1m30s' })).queryValue(
      'SELECT count(*) FROM Transaction',
    );
    await new NewRelicProvider(settings(newrelic.url, { interval: '2500ms' })).queryValue(
      'SELECT count(*) FROM Transaction',
    );
    expect(requestUrl(newrelic, 0).searchParams.get('nrql')).toBe(
      'SELECT count(*) FROM Transaction SINCE 90 seconds ago',
    );
    expect(requestUrl(newrelic, 1).searchParams.get('nrql')).toBe(
      'SELECT count(*) FROM Transaction SINCE 2 seconds ago',
    );
  });

  it('refuses an interval shorter than a second or not a duration', () => {
    expect(() => new NewRelicProvider(settings('http://127.0.0.1:1', { interval: '500ms' }))).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate ingress-nginx/newrelic-error-rate: newrelic: the metric interval "500ms" must be a duration of at least 1s, such as "1m"',
      ),
    );
    expect(() => new NewRelicProvider(settings('http://127.0.0.1:1', { interval: 'soon' }))).toThrow(
      MetricProviderConfigError,
    );
  });

  it('uses the Insights API address by default and keeps a path prefix of a given address', async () => {
    expect(NEWRELIC_DEFAULT_ADDRESS).toBe('https://insights-api.newrelic.com');
    const newrelic = await server(() => insights({ count: 1 }));
    await new NewRelicProvider(settings(`${newrelic.url}/proxy/`)).queryValue('SELECT count(*) FROM Metric');
    expect(requestUrl(newrelic).pathname).toBe('/proxy/v1/accounts/1234567/query');
  });

  it('reads the single value whatever the function is called', async () => {
    for (const [result, expected] of [
      [{ average: 12.3 }, 12.3],
      [{ count: 5 }, 5],
      [{ result: 0 }, 0],
      [{ percentiles: { '95': 0.347 } }, 0.347],
    ] as const) {
      const newrelic = await server(() => insights(result));
      expect(await new NewRelicProvider(settings(newrelic.url)).queryValue('SELECT x FROM Metric')).toBe(
        expected,
      );
    }
  });

  it('turns null, an empty result list and a null percentile into NoValuesFoundError', async () => {
    const nullResult = await server(() => insights({ result: null }));
    await expect(
      new NewRelicProvider(settings(nullResult.url)).queryValue('SELECT x FROM Metric'),
    ).rejects.toThrow(
      new NoValuesFoundError(
        'newrelic: no values found ("result" is null): is the canary receiving traffic, and does the query select its series?',
      ),
    );
    const empty = await server(() => insights());
    await expect(
      new NewRelicProvider(settings(empty.url)).queryValue('SELECT x FROM Metric'),
    ).rejects.toThrow(/no values found \(the query returned no results\)/);
    const nullPercentile = await server(() => insights({ percentiles: { '99': null } }));
    await expect(
      new NewRelicProvider(settings(nullPercentile.url)).queryValue(
        'SELECT percentile(duration, 99) FROM Transaction',
      ),
    ).rejects.toBeInstanceOf(NoValuesFoundError);
  });

  it('refuses several functions, several percentiles, FACET and TIMESERIES with MultipleValuesError', async () => {
    const two = await server(() => insights({ average: 1 }, { count: 2 }));
    await expect(
      new NewRelicProvider(settings(two.url)).queryValue('SELECT average(x), count(*) FROM Metric'),
    ).rejects.toThrow(
      new MultipleValuesError(
        'newrelic: the query returned 2 results; select a single function, such as SELECT average(duration)',
      ),
    );
    const percentiles = await server(() => insights({ percentiles: { '95': 0.3, '99': 0.5 } }));
    await expect(
      new NewRelicProvider(settings(percentiles.url)).queryValue('SELECT percentile(d, 95, 99) FROM T'),
    ).rejects.toThrow('newrelic: "percentiles" has 2 values (95, 99); select a single value');
    const facets = await server(() =>
      json(200, {
        facets: [{ name: 'a', results: [{ count: 1 }] }],
        totalResult: { results: [{ count: 1 }] },
      }),
    );
    await expect(
      new NewRelicProvider(settings(facets.url)).queryValue('SELECT count(*) FROM T FACET a'),
    ).rejects.toThrow(/FACET/);
    const series = await server(() =>
      json(200, { timeSeries: [{ results: [{ count: 1 }] }], total: { results: [{ count: 1 }] } }),
    );
    await expect(
      new NewRelicProvider(settings(series.url)).queryValue('SELECT count(*) FROM T TIMESERIES'),
    ).rejects.toBeInstanceOf(MultipleValuesError);
  });

  it('refuses events and other shapes with MetricQueryError, not TypeError', async () => {
    const events = await server(() => insights({ events: [{ timestamp: 1, duration: 0.2 }] }));
    await expect(
      new NewRelicProvider(settings(events.url)).queryValue('SELECT * FROM Transaction'),
    ).rejects.toThrow(/newrelic: "events" is not a number: .*use an aggregate function/);
    for (const body of [{}, { results: 'x' }, [1], null, { results: [{}] }, { results: ['7'] }]) {
      const odd = await server(() => json(200, body));
      await expect(
        new NewRelicProvider(settings(odd.url)).queryValue('SELECT x FROM T'),
      ).rejects.toBeInstanceOf(MetricQueryError);
    }
    const nullEntry = await server(() => json(200, { results: [null] }));
    await expect(
      new NewRelicProvider(settings(nullEntry.url)).queryValue('SELECT x FROM T'),
    ).rejects.toBeInstanceOf(NoValuesFoundError);
  });

  it("reports New Relic's error text, with a hint when the template has its own SINCE", async () => {
    const newrelic = await server(() =>
      json(400, { error: "NRQL Syntax Error: Error at line 1 position 47, unexpected 'SINCE'" }),
    );
    const failure = new NewRelicProvider(settings(newrelic.url)).queryValue(
      'SELECT count(*) FROM Transaction SINCE 5 minutes ago',
    );
    await expect(failure).rejects.toBeInstanceOf(MetricQueryError);
    await expect(failure).rejects.toThrow(
      `newrelic: ${newrelic.url}/v1/accounts/1234567/query answered HTTP 400: NRQL Syntax Error: Error at line 1 position 47, unexpected 'SINCE' (Vireo appends SINCE itself: remove SINCE from the template's query)`,
    );
    const plain = await server(() => json(400, { error: 'NRQL Syntax Error: unexpected FRO' }));
    await expect(
      new NewRelicProvider(settings(plain.url)).queryValue('SELECT count(*) FRO T'),
    ).rejects.toThrow(/answered HTTP 400: NRQL Syntax Error: unexpected FRO$/);
  });

  it('reports a refused key, a server error and an error in a 200 answer', async () => {
    const refused = await server(() => json(401, { error: 'Invalid query key' }));
    await expect(new NewRelicProvider(settings(refused.url)).queryValue('SELECT 1 FROM T')).rejects.toThrow(
      /answered HTTP 401: Invalid query key/,
    );
    const broken = await server(() => ({ status: 503, body: 'Service Unavailable' }));
    await expect(new NewRelicProvider(settings(broken.url)).queryValue('SELECT 1 FROM T')).rejects.toThrow(
      /answered HTTP 503: Service Unavailable/,
    );
    const inline = await server(() => json(200, { error: 'Query timed out' }));
    await expect(new NewRelicProvider(settings(inline.url)).queryValue('SELECT 1 FROM T')).rejects.toThrow(
      new MetricQueryError('newrelic: the query failed: Query timed out'),
    );
  });

  it('reports a non-JSON answer, an unreachable address and a timeout', async () => {
    const html = await server(() => ({
      status: 200,
      body: '<html>maintenance</html>',
      contentType: 'text/html',
    }));
    await expect(new NewRelicProvider(settings(html.url)).queryValue('SELECT 1 FROM T')).rejects.toThrow(
      /is not JSON \(text\/html\)/,
    );
    await expect(
      new NewRelicProvider(settings('http://127.0.0.1:1')).queryValue('SELECT 1 FROM T'),
    ).rejects.toThrow(
      /newrelic: cannot reach http:\/\/127.0.0.1:1\/v1\/accounts\/1234567\/query: .*ECONNREFUSED/,
    );
    const hanging = await server(() => ({ status: 200, hang: true }));
    await expect(
      new NewRelicProvider(settings(hanging.url), { timeoutMs: 100 }).queryValue('SELECT 1 FROM T'),
    ).rejects.toThrow(/no answer within 100 ms/);
  });

  it('never puts the query key or the NRQL in an error message', async () => {
    const newrelic = await server(() => json(403, { error: 'Forbidden' }));
    const error = (await new NewRelicProvider(settings(newrelic.url))
      .queryValue("SELECT count(*) FROM T WHERE secretAttribute = 'x'")
      .catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(MetricQueryError);
    expect(error.message).not.toContain('NRIQ-secret-query-key');
    expect(error.message).not.toContain('secretAttribute');
    expect(error.message).not.toContain('nrql');
  });

  it('needs both Secret keys and a numeric account ID, naming what is missing', () => {
    expect(
      () => new NewRelicProvider(settings(undefined, { secret: undefined, secretName: undefined })),
    ).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate ingress-nginx/newrelic-error-rate: newrelic needs credentials: set spec.provider.secretRef to a Secret with the key "newrelic_account_id"',
      ),
    );
    expect(() => new NewRelicProvider(settings(undefined, { secret: { newrelic_account_id: '1' } }))).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate ingress-nginx/newrelic-error-rate: newrelic: the Secret "newrelic" has no "newrelic_query_key" key: add it',
      ),
    );
    expect(() => new NewRelicProvider(settings(undefined, { secret: { newrelic_query_key: 'k' } }))).toThrow(
      /has no "newrelic_account_id" key/,
    );
    expect(
      () =>
        new NewRelicProvider(settings(undefined, { secret: { ...SECRET, newrelic_account_id: '../admin' } })),
    ).toThrow(/"newrelic_account_id" key of the Secret "newrelic" must be the numeric account ID/);
  });

  it('accepts an account ID with a trailing newline (echo … | base64)', async () => {
    const newrelic = await server(() => insights({ count: 1 }));
    await new NewRelicProvider(
      settings(newrelic.url, { secret: { ...SECRET, newrelic_account_id: '1234567\n' } }),
    ).queryValue('SELECT count(*) FROM T');
    expect(requestUrl(newrelic).pathname).toBe('/v1/accounts/1234567/query');
  });

  it('is online when a count over Metric answers', async () => {
    const newrelic = await server(() => insights({ count: 0 }));
    expect(await new NewRelicProvider(settings(newrelic.url)).isOnline()).toBe(true);
    expect(requestUrl(newrelic).searchParams.get('nrql')).toBe(
      'SELECT count(*) FROM Metric SINCE 60 seconds ago',
    );
    expect(newrelic.requests[0]?.headers['x-query-key']).toBe('NRIQ-secret-query-key');
    const refused = await server(() => json(401, { error: 'Invalid query key' }));
    await expect(new NewRelicProvider(settings(refused.url)).isOnline()).rejects.toBeInstanceOf(
      MetricQueryError,
    );
  });
});
