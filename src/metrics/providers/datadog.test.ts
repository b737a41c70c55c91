import { logger } from '@datadog/datadog-api-client';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  jsonAnswer as json,
  recordingServers,
  type Answer,
  type RecordingServer,
} from '../../../test/support/recording-server.js';
import { MetricProviderConfigError, MetricQueryError, NoValuesFoundError } from '../errors.js';
import type { Logger } from '../../shared/logger.js';
import type { ProviderSettings } from '../provider.js';
import { DATADOG_DEFAULT_ADDRESS, DatadogProvider } from './datadog.js';

const server = recordingServers();

// The client takes seconds to load; load it once here so that no test pays for it.
beforeAll(async () => {
  await import('@datadog/datadog-api-client');
}, 60_000);

const NOW = new Date('2026-11-23T10:00:00.000Z');
const NOW_SECONDS = NOW.getTime() / 1000;
const SECRET = { datadog_api_key: 'dd-api-SECRET-1', datadog_application_key: 'dd-app-SECRET-2' };
const QUERY = `100 - (
  sum:istio.mesh.request.count{reporter:destination,destination_workload_namespace:test,destination_workload:podinfo,!response_code:404}.as_count()
  /
  sum:istio.mesh.request.count{reporter:destination,destination_workload_namespace:test,destination_workload:podinfo}.as_count()
) * 100
`;

type Point = [number, number | null];
// A /api/v1/query answer as Datadog documents it: points are [timestamp in ms, value], oldest first.
const seriesOf = (scope: string, ...pointlist: Point[]) => ({
  aggr: 'sum',
  metric: 'istio.mesh.request.count',
  tag_set: [],
  expression: `sum:istio.mesh.request.count{${scope}}.as_count()`,
  scope,
  query_index: 0,
  interval: 60,
  length: pointlist.length,
  start: pointlist[0]?.[0] ?? 0,
  end: pointlist.at(-1)?.[0] ?? 0,
  pointlist,
  display_name: 'istio.mesh.request.count',
  unit: null,
});
const queryAnswer = (...series: ReturnType<typeof seriesOf>[]): Answer =>
  json(200, {
    status: 'ok',
    res_type: 'time_series',
    resp_version: 1,
    query: 'sum:istio.mesh.request.count{…}',
    from_date: (NOW_SECONDS - 600) * 1000,
    to_date: NOW_SECONDS * 1000,
    series,
    values: [],
    times: [],
    message: '',
    group_by: [],
  });

function settings(address: string | undefined, extra: Partial<ProviderSettings> = {}): ProviderSettings {
  return {
    source: 'MetricTemplate istio-system/not-found-percentage',
    address,
    interval: '1m',
    secret: SECRET,
    secretName: 'datadog',
    ...extra,
  };
}

const pinned = { now: () => NOW };

function requestUrl(datadog: RecordingServer, index = 0): URL {
  return new URL(datadog.requests[index]?.path ?? '', datadog.url);
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  return (await promise.then(
    () => new Error('expected a failure'),
    (caught: unknown) => caught,
  )) as Error;
}

describe('Datadog provider', () => {
  it('sends GET /api/v1/query with the query, a 10-interval window in seconds and both keys', async () => {
    const datadog = await server(() =>
      queryAnswer(
        seriesOf(
          'destination_workload:podinfo',
          [(NOW_SECONDS - 600) * 1000, 2.5],
          [(NOW_SECONDS - 540) * 1000, 7],
        ),
      ),
    );
    const value = await new DatadogProvider(settings(datadog.url), pinned).queryValue(QUERY);
    expect(value).toBe(2.5);
    const [request] = datadog.requests;
    expect(request?.method).toBe('GET');
    const url = requestUrl(datadog);
    expect(url.pathname).toBe('/api/v1/query');
    expect(url.searchParams.get('query')).toBe(QUERY.trim());
    expect(url.searchParams.get('from')).toBe(String(NOW_SECONDS - 600));
    expect(url.searchParams.get('to')).toBe(String(NOW_SECONDS));
    expect(request?.headers['dd-api-key']).toBe('dd-api-SECRET-1');
    expect(request?.headers['dd-application-key']).toBe('dd-app-SECRET-2');
    expect(request?.headers.accept).toBe('application/json');
    expect(request?.headers['user-agent']).toMatch(/^datadog-api-client-typescript\//);
  });

  it('sizes the window by the interval', async () => {
    const datadog = await server(() => queryAnswer(seriesOf('a', [1, 1])));
    await new DatadogProvider(settings(datadog.url, { interval: '1m30s' }), pinned).queryValue('avg:x{*}');
    expect(requestUrl(datadog).searchParams.get('from')).toBe(String(NOW_SECONDS - 900));
  });

  it('uses api.datadoghq.com by default and keeps a path prefix of a given address', async () => {
    expect(DATADOG_DEFAULT_ADDRESS).toBe('https://api.datadoghq.com');
    const datadog = await server(() => queryAnswer(seriesOf('a', [1, 1])));
    await new DatadogProvider(settings(`${datadog.url}/datadog/`), pinned).queryValue('avg:x{*}');
    expect(requestUrl(datadog).pathname).toBe('/datadog/api/v1/query');
  });

  it("takes the first series' first point, as Flagger does", async () => {
    const datadog = await server(() =>
      queryAnswer(seriesOf('pod:a', [1, 11], [2, 12]), seriesOf('pod:b', [1, 21], [2, 22])),
    );
    expect(await new DatadogProvider(settings(datadog.url), pinned).queryValue('avg:x{*} by {pod}')).toBe(11);
  });

  it('warns that it picked the first of several series', async () => {
    const datadog = await server(() => queryAnswer(seriesOf('pod:a', [1, 11]), seriesOf('pod:b', [1, 21])));
    const warnings: string[] = [];
    const logger = {
      warn: (_fields: object, message: string) => warnings.push(message),
    } as unknown as Logger;
    await new DatadogProvider(settings(datadog.url), { ...pinned, logger }).queryValue('avg:x{*} by {pod}');
    expect(warnings).toEqual([
      expect.stringContaining('datadog: the query returned 2 series; using the first one'),
    ]);
  });

  it('turns no series, no points and a null first value into NoValuesFoundError', async () => {
    const empty = await server(() => queryAnswer());
    await expect(new DatadogProvider(settings(empty.url), pinned).queryValue('avg:x{*}')).rejects.toThrow(
      new NoValuesFoundError(
        'datadog: no values found (the query returned no series): is the canary receiving traffic, and does the query select its series?',
      ),
    );
    const noPoints = await server(() => queryAnswer(seriesOf('a')));
    await expect(new DatadogProvider(settings(noPoints.url), pinned).queryValue('avg:x{*}')).rejects.toThrow(
      /no values found \(the first series has no points\)/,
    );
    const nullValue = await server(() => queryAnswer(seriesOf('a', [1, null], [2, 5])));
    await expect(new DatadogProvider(settings(nullValue.url), pinned).queryValue('avg:x{*}')).rejects.toThrow(
      /no values found \(the first point of the first series is null\)/,
    );
  });

  it('reports an error status in a 200 answer', async () => {
    const datadog = await server(() =>
      json(200, {
        status: 'error',
        res_type: 'time_series',
        error: 'Rule "scope_expr" did not match',
        series: [],
      }),
    );
    await expect(new DatadogProvider(settings(datadog.url), pinned).queryValue('avg:x{')).rejects.toThrow(
      new MetricQueryError('datadog: the query failed: Rule "scope_expr" did not match'),
    );
  });

  it('reports answers of the wrong shape as MetricQueryError, not TypeError', async () => {
    for (const body of [
      { status: 'ok' },
      { status: 'ok', series: 'x' },
      { status: 'ok', series: [{ pointlist: [5] }] },
      { status: 'ok', series: [{ pointlist: [[1, 'x']] }] },
      [1, 2],
    ]) {
      const odd = await server(() => json(200, body));
      const error = await failureOf(new DatadogProvider(settings(odd.url), pinned).queryValue('avg:x{*}'));
      expect(error, JSON.stringify(body)).toBeInstanceOf(MetricQueryError);
    }
  });

  it("maps the client's ApiException to MetricQueryError with Datadog's errors and the status", async () => {
    const datadog = await server(() =>
      json(400, {
        errors: ["Error parsing query: \n unable to parse avg:x{: Rule 'scope_expr' didn't match"],
      }),
    );
    const error = await failureOf(new DatadogProvider(settings(datadog.url), pinned).queryValue('avg:x{'));
    expect(error).toBeInstanceOf(MetricQueryError);
    expect((error as MetricQueryError).status).toBe(400);
    expect(error.message).toBe(
      `datadog: ${datadog.url}/api/v1/query answered HTTP 400: Error parsing query: unable to parse avg:x{: Rule 'scope_expr' didn't match`,
    );
    const unlisted = await server(() => ({
      status: 502,
      body: '<html>Bad Gateway</html>',
      contentType: 'text/html',
    }));
    await expect(new DatadogProvider(settings(unlisted.url), pinned).queryValue('avg:x{*}')).rejects.toThrow(
      new MetricQueryError(
        `datadog: ${unlisted.url}/api/v1/query answered HTTP 502: <html>Bad Gateway</html>`,
        {
          status: 502,
        },
      ),
    );
  });

  it('tries once: no retries on 429 or 5xx', async () => {
    const datadog = await server(() =>
      json(429, { errors: ['Rate limit of 1600 requests in 3600 seconds reached.'] }),
    );
    await expect(new DatadogProvider(settings(datadog.url), pinned).queryValue('avg:x{*}')).rejects.toThrow(
      /answered HTTP 429: Rate limit of 1600 requests in 3600 seconds reached\./,
    );
    expect(datadog.requests).toHaveLength(1);
  });

  it('reports a non-JSON answer, an unreachable address and a timeout, without logging', async () => {
    const logged = vi.spyOn(logger, 'error');
    const html = await server(() => ({ status: 200, body: '<html>login</html>', contentType: 'text/html' }));
    await expect(new DatadogProvider(settings(html.url), pinned).queryValue('avg:x{*}')).rejects.toThrow(
      new MetricQueryError(
        `datadog: ${html.url}/api/v1/query answered HTTP 200 with something that is not JSON (text/html): <html>login</html>`,
        { status: 200 },
      ),
    );
    await expect(
      new DatadogProvider(settings('http://127.0.0.1:1'), pinned).queryValue('avg:x{*}'),
    ).rejects.toThrow(/^datadog: cannot reach http:\/\/127.0.0.1:1\/api\/v1\/query: .*ECONNREFUSED/);
    const hanging = await server(() => ({ status: 200, hang: true }));
    await expect(
      new DatadogProvider(settings(hanging.url), { ...pinned, timeoutMs: 100 }).queryValue('avg:x{*}'),
    ).rejects.toThrow(
      new MetricQueryError(`datadog: cannot reach ${hanging.url}/api/v1/query: no answer within 100 ms`),
    );
    expect(logged).not.toHaveBeenCalled();
    logged.mockRestore();
  });

  it('never puts the keys or the query in an error message', async () => {
    const datadog = await server(() => json(403, { errors: ['Forbidden'] }));
    const error = await failureOf(
      new DatadogProvider(settings(datadog.url), pinned).queryValue('avg:secret.metric{team:payments}'),
    );
    expect(error).toBeInstanceOf(MetricQueryError);
    expect(error.message).toBe(`datadog: ${datadog.url}/api/v1/query answered HTTP 403: Forbidden`);
    for (const hidden of ['dd-api-SECRET-1', 'dd-app-SECRET-2', 'secret.metric', 'query=']) {
      expect(error.message).not.toContain(hidden);
    }
  });

  it('is online when /api/v1/validate confirms the API key', async () => {
    const datadog = await server(() => json(200, { valid: true }));
    expect(await new DatadogProvider(settings(datadog.url), pinned).isOnline()).toBe(true);
    const [request] = datadog.requests;
    expect(request?.method).toBe('GET');
    expect(requestUrl(datadog).pathname).toBe('/api/v1/validate');
    expect(request?.headers['dd-api-key']).toBe('dd-api-SECRET-1');
  });

  it('is not online when the API key is refused or not confirmed', async () => {
    const refused = await server(() => json(403, { errors: ['Forbidden'] }));
    await expect(new DatadogProvider(settings(refused.url), pinned).isOnline()).rejects.toThrow(
      new MetricQueryError(`datadog: ${refused.url}/api/v1/validate answered HTTP 403: Forbidden`, {
        status: 403,
      }),
    );
    const unconfirmed = await server(() => json(200, { valid: false }));
    await expect(new DatadogProvider(settings(unconfirmed.url), pinned).isOnline()).rejects.toThrow(
      /did not confirm that the API key is valid/,
    );
  });

  it('needs both Secret keys and a usable interval, naming what is missing', () => {
    expect(
      () => new DatadogProvider(settings(undefined, { secret: undefined, secretName: undefined })),
    ).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate istio-system/not-found-percentage: datadog needs credentials: set spec.provider.secretRef to a Secret with the key "datadog_api_key"',
      ),
    );
    expect(() => new DatadogProvider(settings(undefined, { secret: { datadog_api_key: 'k' } }))).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate istio-system/not-found-percentage: datadog: the Secret "datadog" has no "datadog_application_key" key: add it',
      ),
    );
    expect(
      () => new DatadogProvider(settings(undefined, { secret: { datadog_application_key: 'k' } })),
    ).toThrow(/has no "datadog_api_key" key/);
    expect(() => new DatadogProvider(settings(undefined, { interval: 'later' }))).toThrow(
      /the metric interval "later" is not a positive duration/,
    );
    // Ten intervals must make at least one whole second: Datadog's API counts in seconds.
    expect(() => new DatadogProvider(settings(undefined, { interval: '50ms' }))).toThrow(
      /the metric interval "50ms" makes a query window under 1s/,
    );
    expect(() => new DatadogProvider(settings('api.datadoghq.eu'))).toThrow(MetricQueryError);
  });
});
