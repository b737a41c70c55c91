import { describe, expect, it } from 'vitest';
import {
  jsonAnswer,
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
import { DynatraceProvider } from './dynatrace.js';

const server = recordingServers();

const json = (status: number, body: unknown): Answer =>
  jsonAnswer(status, body, 'application/json;charset=utf-8');

const NOW = new Date('2026-11-23T10:00:00.000Z');
const SELECTOR =
  'builtin:service.response.time:filter(eq(dt.entity.service,SERVICE-ABCDEFG0123456789)):percentile(95)';

interface Series {
  service: string;
  values: (number | null)[];
}
const series = (service: string, ...values: (number | null)[]): Series => ({ service, values });
// A Metrics API v2 answer with resolution=Inf: one timestamp and one value per data series.
const metricData = (...data: Series[]): Answer =>
  json(200, {
    totalCount: data.length,
    nextPageKey: null,
    resolution: 'Inf',
    result: [
      {
        metricId: 'builtin:service.response.time:percentile(95)',
        dataPointCountRatio: 0.0000216,
        dimensionCountRatio: 0.00044,
        data: data.map(({ service, values }) => ({
          dimensions: [service],
          dimensionMap: { 'dt.entity.service': service },
          timestamps: values.map((_, index) => NOW.getTime() - index * 60_000),
          values,
        })),
      },
    ],
  });

function settings(address: string, extra: Partial<ProviderSettings> = {}): ProviderSettings {
  return {
    source: 'MetricTemplate istio-system/response-time-95pct',
    address,
    interval: '1m',
    secret: { dynatrace_token: 'dt0c01.SECRETTOKEN' },
    secretName: 'dynatrace',
    ...extra,
  };
}

const pinned = { now: () => NOW };

function requestUrl(dynatrace: RecordingServer, index = 0): URL {
  return new URL(dynatrace.requests[index]?.path ?? '', dynatrace.url);
}

describe('Dynatrace provider', () => {
  it('sends GET /api/v2/metrics/query with the selector, resolution=Inf and a 10-interval window in ms', async () => {
    const dynatrace = await server(() => metricData(series('SERVICE-ABCDEFG0123456789', 231_004.5)));
    const value = await new DynatraceProvider(settings(dynatrace.url), pinned).queryValue(`${SELECTOR}\n`);
    expect(value).toBe(231_004.5);
    const [request] = dynatrace.requests;
    expect(request?.method).toBe('GET');
    const url = requestUrl(dynatrace);
    expect(url.pathname).toBe('/api/v2/metrics/query');
    expect(url.searchParams.get('metricSelector')).toBe(SELECTOR);
    expect(url.searchParams.get('resolution')).toBe('Inf');
    expect(url.searchParams.get('from')).toBe(String(NOW.getTime() - 600_000));
    expect(url.searchParams.get('to')).toBe(String(NOW.getTime()));
    expect(request?.headers.authorization).toBe('Api-Token dt0c01.SECRETTOKEN');
    expect(request?.headers.accept).toBe('application/json');
  });

  it('sizes the window by the interval', async () => {
    const dynatrace = await server(() => metricData(series('S', 1)));
    await new DynatraceProvider(settings(dynatrace.url, { interval: '30s' }), pinned).queryValue(SELECTOR);
    expect(requestUrl(dynatrace).searchParams.get('from')).toBe(String(NOW.getTime() - 300_000));
  });

  it('keeps the environment path of a Managed or ActiveGate address', async () => {
    const dynatrace = await server(() => metricData(series('S', 1)));
    await new DynatraceProvider(settings(`${dynatrace.url}/e/abc12345/`), pinned).queryValue(SELECTOR);
    expect(requestUrl(dynatrace).pathname).toBe('/e/abc12345/api/v2/metrics/query');
  });

  it('takes the last non-null value of the series', async () => {
    const dynatrace = await server(() => metricData(series('S', 3, 4.5, null)));
    expect(await new DynatraceProvider(settings(dynatrace.url), pinned).queryValue(SELECTOR)).toBe(4.5);
  });

  it('ignores series whose values are all null beside the one with a value', async () => {
    const dynatrace = await server(() => metricData(series('SERVICE-OLD', null), series('SERVICE-NEW', 12)));
    expect(await new DynatraceProvider(settings(dynatrace.url), pinned).queryValue(SELECTOR)).toBe(12);
  });

  it('refuses several series with values with MultipleValuesError naming them', async () => {
    const dynatrace = await server(() => metricData(series('SERVICE-A', 1), series('SERVICE-B', 2)));
    const failure = new DynatraceProvider(settings(dynatrace.url), pinned).queryValue(
      'builtin:service.response.time:percentile(95)',
    );
    await expect(failure).rejects.toThrow(
      new MultipleValuesError(
        'dynatrace: the selector returned 2 data series with values (builtin:service.response.time:percentile(95) SERVICE-A, builtin:service.response.time:percentile(95) SERVICE-B); filter it to the canary or merge the series with :splitBy()',
      ),
    );
  });

  it('turns no series and null-only values into NoValuesFoundError, with Dynatrace warnings', async () => {
    const empty = await server(() => metricData());
    await expect(new DynatraceProvider(settings(empty.url), pinned).queryValue(SELECTOR)).rejects.toThrow(
      new NoValuesFoundError(
        'dynatrace: no values found (the selector matched no data series): is the canary receiving traffic, and does the query select its series?',
      ),
    );
    const nulls = await server(() => metricData(series('S', null)));
    await expect(new DynatraceProvider(settings(nulls.url), pinned).queryValue(SELECTOR)).rejects.toThrow(
      /no values found \(every value in the window is null\)/,
    );
    const warned = await server(() =>
      json(200, {
        totalCount: 0,
        nextPageKey: null,
        resolution: 'Inf',
        warnings: [
          'The dimension key `dt.entity.servic` has been referenced, but the metric has no such key.',
        ],
        result: [{ metricId: 'builtin:service.response.time', data: [] }],
      }),
    );
    await expect(new DynatraceProvider(settings(warned.url), pinned).queryValue(SELECTOR)).rejects.toThrow(
      /matched no data series; Dynatrace warns: The dimension key `dt.entity.servic` has been referenced/,
    );
  });

  it('reports answers of the wrong shape as MetricQueryError, not TypeError', async () => {
    for (const body of [
      null,
      {},
      { result: {} },
      { result: [{ data: 'x' }] },
      { result: [{ data: [{}] }] },
      { result: [null] },
    ]) {
      const odd = await server(() => json(200, body));
      await expect(
        new DynatraceProvider(settings(odd.url), pinned).queryValue(SELECTOR),
      ).rejects.toBeInstanceOf(MetricQueryError);
    }
  });

  it("reports Dynatrace's error message and constraint violations", async () => {
    const dynatrace = await server(() =>
      json(400, {
        error: {
          code: 400,
          message: 'Constraints violated.',
          constraintViolations: [
            {
              path: 'metricSelector',
              message: 'The metric key `builtin:service.response.tim` does not exist.',
              parameterLocation: 'QUERY',
              location: null,
            },
          ],
        },
      }),
    );
    const failure = new DynatraceProvider(settings(dynatrace.url), pinned).queryValue(
      'builtin:service.response.tim',
    );
    await expect(failure).rejects.toBeInstanceOf(MetricQueryError);
    await expect(failure).rejects.toThrow(
      `dynatrace: ${dynatrace.url}/api/v2/metrics/query answered HTTP 400: Constraints violated. metricSelector: The metric key \`builtin:service.response.tim\` does not exist.`,
    );
    const unauthorized = await server(() =>
      json(401, { error: { code: 401, message: 'Token Authentication failed' } }),
    );
    await expect(
      new DynatraceProvider(settings(unauthorized.url), pinned).queryValue(SELECTOR),
    ).rejects.toThrow(/answered HTTP 401: Token Authentication failed$/);
    const gateway = await server(() => ({
      status: 502,
      body: '<html>Bad Gateway</html>',
      contentType: 'text/html',
    }));
    await expect(new DynatraceProvider(settings(gateway.url), pinned).queryValue(SELECTOR)).rejects.toThrow(
      /answered HTTP 502: <html>Bad Gateway<\/html>/,
    );
  });

  it('reports a non-JSON answer, an unreachable address and a timeout', async () => {
    const html = await server(() => ({ status: 200, body: '<html>SSO</html>', contentType: 'text/html' }));
    await expect(new DynatraceProvider(settings(html.url), pinned).queryValue(SELECTOR)).rejects.toThrow(
      /is not JSON \(text\/html\)/,
    );
    await expect(
      new DynatraceProvider(settings('http://127.0.0.1:1'), pinned).queryValue(SELECTOR),
    ).rejects.toThrow(
      /dynatrace: cannot reach http:\/\/127.0.0.1:1\/api\/v2\/metrics\/query: .*ECONNREFUSED/,
    );
    const hanging = await server(() => ({ status: 200, hang: true }));
    await expect(
      new DynatraceProvider(settings(hanging.url), { ...pinned, timeoutMs: 100 }).queryValue(SELECTOR),
    ).rejects.toThrow(/no answer within 100 ms/);
  });

  it('never puts the token or the selector in an error message', async () => {
    const dynatrace = await server(() =>
      json(403, { error: { code: 403, message: 'Token is missing required scope.' } }),
    );
    const error = (await new DynatraceProvider(settings(dynatrace.url), pinned)
      .queryValue(SELECTOR)
      .catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(MetricQueryError);
    expect(error.message).toContain('HTTP 403: Token is missing required scope.');
    expect(error.message).not.toContain('SECRETTOKEN');
    expect(error.message).not.toContain('SERVICE-ABCDEFG0123456789');
  });

  it('is online when one metric descriptor can be listed with the token', async () => {
    const dynatrace = await server(() =>
      json(200, {
        totalCount: 2012,
        nextPageKey: 'AAEAAAAAAAAAAQ',
        metrics: [
          { metricId: 'builtin:apps.other.apdex.osAndGeo', displayName: 'Apdex (by OS, geolocation)' },
        ],
      }),
    );
    expect(await new DynatraceProvider(settings(dynatrace.url), pinned).isOnline()).toBe(true);
    const url = requestUrl(dynatrace);
    expect(url.pathname).toBe('/api/v2/metrics');
    expect(url.searchParams.get('pageSize')).toBe('1');
    expect(dynatrace.requests[0]?.headers.authorization).toBe('Api-Token dt0c01.SECRETTOKEN');
    const refused = await server(() =>
      json(401, { error: { code: 401, message: 'Missing authorization parameter.' } }),
    );
    await expect(new DynatraceProvider(settings(refused.url)).isOnline()).rejects.toThrow(/HTTP 401/);
  });

  it('needs an address, the token and a usable interval', () => {
    expect(() => new DynatraceProvider(settings(''))).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate istio-system/response-time-95pct: dynatrace needs spec.provider.address, such as https://{your-environment-id}.live.dynatrace.com',
      ),
    );
    expect(() => new DynatraceProvider(settings('https://abc.live.dynatrace.com', { secret: {} }))).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate istio-system/response-time-95pct: dynatrace: the Secret "dynatrace" has no "dynatrace_token" key: add it',
      ),
    );
    expect(
      () =>
        new DynatraceProvider(
          settings('https://abc.live.dynatrace.com', { secret: undefined, secretName: undefined }),
        ),
    ).toThrow(
      /dynatrace needs credentials: set spec.provider.secretRef to a Secret with the key "dynatrace_token"/,
    );
    expect(
      () => new DynatraceProvider(settings('https://abc.live.dynatrace.com', { interval: '1min' })),
    ).toThrow(/the metric interval "1min" is not a positive duration/);
  });
});
