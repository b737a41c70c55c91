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
import { GraphiteProvider } from './graphite.js';

const server = recordingServers();

type Datapoint = [number | string | null, number];
const series = (target: string, ...datapoints: Datapoint[]) => ({
  target,
  tags: { name: target },
  datapoints,
});
const render = (...entries: ReturnType<typeof series>[]): Answer => json(200, entries);

function settings(address: string, extra: Partial<ProviderSettings> = {}): ProviderSettings {
  return { source: 'MetricTemplate test/success-rate', address, interval: '1m', ...extra };
}

function requestUrl(graphite: RecordingServer, index = 0): URL {
  return new URL(graphite.requests[index]?.path ?? '', graphite.url);
}

// The query of Flagger's documentation, as a MetricTemplate renders it (several lines).
const DOCS_QUERY = `target=summarize(
  asPercent(
    sumSeries(
      stats.timers.httpServerRequests.app.podinfo.exception.*.method.*.outcome.{CLIENT_ERROR,INFORMATIONAL,REDIRECTION,SUCCESS}.status.*.uri.*.count
    ),
    sumSeries(
      stats.timers.httpServerRequests.app.podinfo.exception.*.method.*.outcome.*.status.*.uri.*.count
    )
  ),
  1m,
  'avg'
)
`;

describe('Graphite provider', () => {
  it('sends GET /render with the query parameters, whitespace collapsed and format=json', async () => {
    const graphite = await server(() =>
      render(series('summarize(asPercent(…))', [98.5, 1_700_000_000], [99.25, 1_700_000_060])),
    );
    const value = await new GraphiteProvider(settings(graphite.url)).queryValue(`${DOCS_QUERY}&from=-1min`);
    expect(value).toBe(99.25);
    const [request] = graphite.requests;
    expect(request?.method).toBe('GET');
    const url = requestUrl(graphite);
    expect(url.pathname).toBe('/render');
    expect(url.searchParams.get('target')).toBe(
      "summarize( asPercent( sumSeries( stats.timers.httpServerRequests.app.podinfo.exception.*.method.*.outcome.{CLIENT_ERROR,INFORMATIONAL,REDIRECTION,SUCCESS}.status.*.uri.*.count ), sumSeries( stats.timers.httpServerRequests.app.podinfo.exception.*.method.*.outcome.*.status.*.uri.*.count ) ), 1m, 'avg' )",
    );
    expect(url.searchParams.get('from')).toBe('-1min');
    expect(url.searchParams.getAll('format')).toEqual(['json']);
    expect(request?.headers.authorization).toBeUndefined();
  });

  it('keeps a path prefix of the address', async () => {
    const graphite = await server(() => render(series('a', [1, 1])));
    await new GraphiteProvider(settings(`${graphite.url}/graphite/`)).queryValue('target=a');
    expect(requestUrl(graphite).pathname).toBe('/graphite/render');
  });

  it('forces format=json over the format a template sets, as Flagger does', async () => {
    const graphite = await server(() => render(series('a', [1, 1])));
    await new GraphiteProvider(settings(graphite.url)).queryValue('target=a&format=png&from=-5min');
    const url = requestUrl(graphite);
    expect(url.searchParams.getAll('format')).toEqual(['json']);
    expect(url.searchParams.get('from')).toBe('-5min');
  });

  it('refuses a query without target= before calling Graphite', async () => {
    const graphite = await server(() => render());
    await expect(
      new GraphiteProvider(settings(graphite.url)).queryValue('sumSeries(app.requests)'),
    ).rejects.toThrow(
      new MetricQueryError(
        'graphite: the query has no target= parameter; write it as a render query string, such as target=sumSeries(app.requests.count)&from=-1min',
      ),
    );
    expect(graphite.requests).toHaveLength(0);
  });

  it('sends username and password as basic auth', async () => {
    const graphite = await server(() => render(series('a', [1, 1])));
    const provider = new GraphiteProvider(
      settings(graphite.url, {
        secret: { username: 'grafana', password: 'pa:ss' },
        secretName: 'graphite-basic-auth',
      }),
    );
    await provider.queryValue('target=a');
    expect(graphite.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('grafana:pa:ss').toString('base64')}`,
    );
  });

  it('needs both username and password once one is set, naming the Secret and the missing key', () => {
    expect(
      () =>
        new GraphiteProvider(
          settings('http://127.0.0.1:1', {
            secret: { username: 'grafana' },
            secretName: 'graphite-basic-auth',
          }),
        ),
    ).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate test/success-rate: graphite: the Secret "graphite-basic-auth" has no "password" key: basic auth needs both "username" and "password"',
      ),
    );
    expect(() => new GraphiteProvider(settings('http://127.0.0.1:1', { secret: { password: 'p' } }))).toThrow(
      /the Secret has no "username" key/,
    );
  });

  it('sends no auth when the Secret has neither username nor password', async () => {
    const graphite = await server(() => render(series('a', [1, 1])));
    await new GraphiteProvider(settings(graphite.url, { secret: { other: 'x' } })).queryValue('target=a');
    expect(graphite.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('takes the last non-null datapoint, skipping trailing nulls', async () => {
    const graphite = await server(() =>
      render(series('a', [null, 1], [4, 2], [5.5, 3], [null, 4], [null, 5])),
    );
    expect(await new GraphiteProvider(settings(graphite.url)).queryValue('target=a')).toBe(5.5);
  });

  it('reads values written as strings by Graphite-compatible servers', async () => {
    const graphite = await server(() => render(series('a', ['12.5', 1], ['', 2])));
    expect(await new GraphiteProvider(settings(graphite.url)).queryValue('target=a')).toBe(12.5);
  });

  it('ignores series without data beside the one with data (old pods of a wildcard)', async () => {
    const graphite = await server(() =>
      render(series('app.pod-old.count', [null, 1], [null, 2]), series('app.pod-new.count', [3, 1], [7, 2])),
    );
    expect(await new GraphiteProvider(settings(graphite.url)).queryValue('target=app.*.count')).toBe(7);
  });

  it('refuses several series with data with MultipleValuesError naming them', async () => {
    const graphite = await server(() =>
      render(series('app.pod-a.count', [1, 1]), series('app.pod-b.count', [2, 1])),
    );
    const failure = new GraphiteProvider(settings(graphite.url)).queryValue('target=app.*.count');
    await expect(failure).rejects.toBeInstanceOf(MultipleValuesError);
    await expect(failure).rejects.toThrow(
      'graphite: the query returned 2 series with data (app.pod-a.count, app.pod-b.count); aggregate them into one, for example with sumSeries() or averageSeries()',
    );
  });

  it('turns no series, all-null datapoints and non-finite values into NoValuesFoundError', async () => {
    const empty = await server(() => render());
    await expect(new GraphiteProvider(settings(empty.url)).queryValue('target=a')).rejects.toThrow(
      new NoValuesFoundError(
        'graphite: no values found (the query matched no series): is the canary receiving traffic, and does the query select its series?',
      ),
    );
    const nulls = await server(() => render(series('a', [null, 1], [null, 2])));
    await expect(new GraphiteProvider(settings(nulls.url)).queryValue('target=a')).rejects.toThrow(
      /no values found \(every datapoint in the window is null\)/,
    );
    const infinite = await server(() => ({
      status: 200,
      body: '[{"target":"a","datapoints":[[1e999,1],["NaN",2]]}]',
      contentType: 'application/json',
    }));
    await expect(new GraphiteProvider(settings(infinite.url)).queryValue('target=a')).rejects.toBeInstanceOf(
      NoValuesFoundError,
    );
  });

  it('reports answers of the wrong shape as MetricQueryError, not TypeError', async () => {
    const object = await server(() => json(200, { error: 'nope' }));
    await expect(new GraphiteProvider(settings(object.url)).queryValue('target=a')).rejects.toThrow(
      'graphite: the render API answered something that is not a list of series: {"error":"nope"}',
    );
    const noDatapoints = await server(() => json(200, [{ target: 'a' }, null]));
    await expect(new GraphiteProvider(settings(noDatapoints.url)).queryValue('target=a')).rejects.toThrow(
      new MetricQueryError('graphite: series 0 of the answer has no datapoints list'),
    );
    const nullEntry = await server(() => json(200, [null]));
    await expect(new GraphiteProvider(settings(nullEntry.url)).queryValue('target=a')).rejects.toBeInstanceOf(
      MetricQueryError,
    );
  });

  it("reports Graphite's error page for a bad target with the status", async () => {
    const graphite = await server(() => ({
      status: 400,
      body: 'Invalid function: "sumSeriez"\n',
      contentType: 'text/plain',
    }));
    const failure = new GraphiteProvider(settings(graphite.url)).queryValue('target=sumSeriez(a)');
    await expect(failure).rejects.toBeInstanceOf(MetricQueryError);
    await expect(failure).rejects.toThrow(
      `graphite: ${graphite.url}/render answered HTTP 400: Invalid function: "sumSeriez"`,
    );
    const broken = await server(() => ({
      status: 500,
      body: '<h1>Server Error (500)</h1>',
      contentType: 'text/html',
    }));
    await expect(new GraphiteProvider(settings(broken.url)).queryValue('target=a')).rejects.toThrow(
      /answered HTTP 500: <h1>Server Error \(500\)<\/h1>/,
    );
  });

  it('reports a non-JSON answer, an unreachable address and a timeout', async () => {
    const html = await server(() => ({ status: 200, body: '<html>login</html>', contentType: 'text/html' }));
    await expect(new GraphiteProvider(settings(html.url)).queryValue('target=a')).rejects.toThrow(
      /is not JSON \(text\/html\): <html>login<\/html>/,
    );
    await expect(new GraphiteProvider(settings('http://127.0.0.1:1')).queryValue('target=a')).rejects.toThrow(
      /graphite: cannot reach http:\/\/127.0.0.1:1\/render: .*ECONNREFUSED/,
    );
    const hanging = await server(() => ({ status: 200, hang: true }));
    await expect(
      new GraphiteProvider(settings(hanging.url), { timeoutMs: 100 }).queryValue('target=a'),
    ).rejects.toThrow(
      new MetricQueryError(`graphite: cannot reach ${hanging.url}/render: no answer within 100 ms`),
    );
  });

  it('never puts the password or the query string in an error message', async () => {
    const graphite = await server(() => ({ status: 401, body: 'Unauthorized' }));
    const provider = new GraphiteProvider(
      settings(graphite.url, { secret: { username: 'grafana', password: 'hunter2-secret' } }),
    );
    const error = (await provider
      .queryValue('target=secret.series.name')
      .catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(MetricQueryError);
    expect(error.message).toBe(`graphite: ${graphite.url}/render answered HTTP 401: Unauthorized`);
    expect(error.message).not.toContain('hunter2');
    expect(error.message).not.toContain(Buffer.from('grafana:hunter2-secret').toString('base64'));
    expect(error.message).not.toContain('secret.series.name');
  });

  it('is online when the render API answers, even with no series', async () => {
    const graphite = await server(() => render());
    expect(await new GraphiteProvider(settings(graphite.url)).isOnline()).toBe(true);
    const url = requestUrl(graphite);
    expect(url.pathname).toBe('/render');
    expect(url.searchParams.get('target')).toBe('vireo.online.check');
    expect(url.searchParams.get('format')).toBe('json');
  });

  it('is not online when the credentials are refused', async () => {
    const graphite = await server(() => ({ status: 401, body: 'Unauthorized' }));
    await expect(new GraphiteProvider(settings(graphite.url)).isOnline()).rejects.toThrow(/HTTP 401/);
  });

  it('needs an address, and an http(s) one', () => {
    expect(() => new GraphiteProvider(settings(''))).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate test/success-rate: graphite needs spec.provider.address, such as http://graphite.monitoring',
      ),
    );
    expect(() => new GraphiteProvider(settings('graphite.monitoring'))).toThrow(MetricQueryError);
    expect(() => new GraphiteProvider(settings('ftp://graphite'))).toThrow(/must be http:\/\/ or https:\/\//);
  });

  it('does not read the interval, so a Graphite-style "1min" interval is accepted', async () => {
    const graphite = await server(() => render(series('a', [1, 1])));
    expect(
      await new GraphiteProvider(settings(graphite.url, { interval: '1min' })).queryValue('target=a'),
    ).toBe(1);
  });
});
