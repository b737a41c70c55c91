/**
 * Graphite (docs/flagger-compatibility.md#42-metric-templates-and-providers): `GET {address}/render?<query>&format=json`, where the template's query
 * is already a render query string such as `target=summarize(…)&from=-1min`. Whitespace runs in the
 * query's parameters are collapsed to one space (templates are written over several lines), `format` is always
 * `json`, and the Secret's `username` and `password` become basic auth. 5 s timeout.
 *
 * Answers are `[{target, datapoints: [[value, timestamp], …]}]`. The value is the last non-null
 * datapoint of the one series that has data; no such datapoint means no data. Unlike Flagger, which
 * silently takes the last datapoint of the last series, several series with data are an error: a
 * wildcard that matches two pods would otherwise judge the canary on whichever came last.
 */
import type { Dispatcher } from 'undici';
import {
  MetricProviderConfigError,
  MetricQueryError,
  MultipleValuesError,
  noValues,
  secretLabel,
} from '../errors.js';
import { apiUrl, dispatcherFor, excerpt, httpJson } from '../http.js';
import type { MetricsBackend, ProviderDeps, ProviderSettings } from '../provider.js';

export const GRAPHITE_TIMEOUT_MS = 5_000;

/** A name no real series has: rendering it proves the API answers without needing any data. */
const ONLINE_CHECK_QUERY = 'target=vireo.online.check&from=-1min';

interface GraphiteSeries {
  readonly target: string;
  readonly values: readonly number[];
}

export class GraphiteProvider implements MetricsBackend {
  readonly type = 'graphite';
  private readonly renderUrl: URL;
  private readonly headers: Record<string, string>;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly timeoutMs: number;

  constructor(settings: ProviderSettings, deps: ProviderDeps = {}) {
    if (settings.address === undefined || settings.address === '') {
      throw new MetricProviderConfigError(
        `${settings.source}: graphite needs spec.provider.address, such as http://graphite.monitoring`,
      );
    }
    this.renderUrl = apiUrl(this.type, settings.address, '/render');
    this.headers = { accept: 'application/json', ...basicAuth(settings) };
    this.dispatcher = dispatcherFor(settings, deps);
    this.timeoutMs = deps.timeoutMs ?? GRAPHITE_TIMEOUT_MS;
  }

  async queryValue(query: string): Promise<number> {
    return valueOf(await this.render(query));
  }

  /** Any well-formed answer, even an empty one, shows that Graphite answers with these credentials. */
  async isOnline(): Promise<boolean> {
    await this.render(ONLINE_CHECK_QUERY);
    return true;
  }

  private async render(query: string): Promise<GraphiteSeries[]> {
    const answer = await httpJson({
      provider: this.type,
      url: this.urlFor(query),
      headers: this.headers,
      timeoutMs: this.timeoutMs,
      dispatcher: this.dispatcher,
    });
    return seriesOf(answer);
  }

  private urlFor(query: string): URL {
    const parameters = new URLSearchParams();
    for (const [name, value] of new URLSearchParams(query.trim())) {
      parameters.append(collapse(name), collapse(value));
    }
    if (!parameters.has('target')) {
      throw new MetricQueryError(
        `graphite: the query has no target= parameter; write it as a render query string, such as target=sumSeries(app.requests.count)&from=-1min`,
      );
    }
    // Flagger overrides any format the template sets: the answer must be JSON to be read.
    parameters.set('format', 'json');
    const url = new URL(this.renderUrl);
    url.search = parameters.toString();
    return url;
  }
}

/** Templates spread targets over lines: Graphite reads them the same with single spaces. */
function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Basic auth when the Secret has `username` or `password`; then it needs both. */
function basicAuth(settings: ProviderSettings): Record<string, string> {
  const username = settings.secret?.['username'] ?? '';
  const password = settings.secret?.['password'] ?? '';
  if (username === '' && password === '') return {};
  if (username === '' || password === '') {
    const missing = username === '' ? 'username' : 'password';
    throw new MetricProviderConfigError(
      `${settings.source}: graphite: ${secretLabel(settings.secretName)} has no "${missing}" key: basic auth needs both "username" and "password"`,
    );
  }
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}

function seriesOf(answer: unknown): GraphiteSeries[] {
  if (!Array.isArray(answer)) {
    throw new MetricQueryError(
      `graphite: the render API answered something that is not a list of series: ${excerpt(JSON.stringify(answer))}`,
    );
  }
  return answer.map((entry: unknown, index) => {
    const { target, datapoints } = (entry ?? {}) as { target?: unknown; datapoints?: unknown };
    if (!Array.isArray(datapoints)) {
      throw new MetricQueryError(`graphite: series ${index} of the answer has no datapoints list`);
    }
    return {
      target: typeof target === 'string' ? target : `#${index}`,
      values: datapoints.map(datapointValue).filter((value) => value !== undefined),
    };
  });
}

/** A datapoint is `[value, timestamp]`; null, NaN and infinities are gaps, not values. */
function datapointValue(datapoint: unknown): number | undefined {
  const raw: unknown = Array.isArray(datapoint) ? datapoint[0] : undefined;
  // Some Graphite-compatible servers write values as strings.
  const value =
    typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  return Number.isFinite(value) ? value : undefined;
}

function valueOf(series: readonly GraphiteSeries[]): number {
  const withData = series.filter((entry) => entry.values.length > 0);
  const [only, ...others] = withData;
  if (only === undefined) {
    throw noValues(
      'graphite',
      series.length === 0 ? 'the query matched no series' : 'every datapoint in the window is null',
    );
  }
  if (others.length > 0) {
    const names = withData.slice(0, 3).map((entry) => entry.target);
    throw new MultipleValuesError(
      `graphite: the query returned ${withData.length} series with data (${names.join(', ')}${withData.length > 3 ? ', …' : ''}); aggregate them into one, for example with sumSeries() or averageSeries()`,
    );
  }
  return only.values.at(-1) ?? Number.NaN;
}
