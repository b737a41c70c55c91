/**
 * New Relic (docs/flagger-compatibility.md#42-metric-templates-and-providers), through the Insights query API:
 * `GET {address or https://insights-api.newrelic.com}/v1/accounts/{newrelic_account_id}/query` with
 * `nrql=<query> SINCE <interval in seconds> seconds ago` and the Secret's `newrelic_query_key` in
 * `X-Query-Key`. As in Flagger, the window is appended here, so templates must not have their own
 * SINCE. 5 s timeout.
 *
 * Answers are `{"results": [{"<function>": value}]}`: `{"count": 5}`, `{"average": 1.2}`, or
 * `{"result": 3.4}` for arithmetic; percentiles nest one level (`{"percentiles": {"95": 0.3}}`). The
 * value is the single number of the single result. Flagger only reads the `result` key, so templates
 * written for it keep working and plain aggregates work too. Several results (several functions),
 * FACET and TIMESERIES give several values and are refused; null means no data.
 */
import type { Dispatcher } from 'undici';
import {
  MetricProviderConfigError,
  MetricQueryError,
  MultipleValuesError,
  noValues,
  requiredSecretKey,
  secretLabel,
} from '../errors.js';
import { apiUrl, dispatcherFor, excerpt, httpJson } from '../http.js';
import type { MetricsBackend, ProviderDeps, ProviderSettings } from '../provider.js';
import { parseGoDuration } from '../../api/duration.js';

export const NEWRELIC_TIMEOUT_MS = 5_000;
export const NEWRELIC_DEFAULT_ADDRESS = 'https://insights-api.newrelic.com';

/** An aggregate over all metrics: cheap for NRDB, small to answer, and it needs a valid key. */
const ONLINE_CHECK_QUERY = 'SELECT count(*) FROM Metric';

interface InsightsAnswer {
  results?: unknown;
  facets?: unknown;
  timeSeries?: unknown;
  error?: unknown;
}

export class NewRelicProvider implements MetricsBackend {
  readonly type = 'newrelic';
  private readonly queryUrl: URL;
  private readonly queryKey: string;
  private readonly sinceSeconds: number;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly timeoutMs: number;

  constructor(settings: ProviderSettings, deps: ProviderDeps = {}) {
    const accountId = requiredSecretKey(
      `${settings.source}: newrelic`,
      settings.secret,
      settings.secretName,
      'newrelic_account_id',
    ).trim();
    if (!/^[0-9]+$/.test(accountId)) {
      throw new MetricProviderConfigError(
        `${settings.source}: newrelic: the "newrelic_account_id" key of ${secretLabel(settings.secretName)} must be the numeric account ID`,
      );
    }
    this.queryKey = requiredSecretKey(
      `${settings.source}: newrelic`,
      settings.secret,
      settings.secretName,
      'newrelic_query_key',
    );
    this.sinceSeconds = windowSeconds(settings);
    const address =
      settings.address === undefined || settings.address === '' ? NEWRELIC_DEFAULT_ADDRESS : settings.address;
    this.queryUrl = apiUrl(this.type, address, `/v1/accounts/${accountId}/query`);
    this.dispatcher = dispatcherFor(settings, deps);
    this.timeoutMs = deps.timeoutMs ?? NEWRELIC_TIMEOUT_MS;
  }

  async queryValue(query: string): Promise<number> {
    const nrql = `${query.trim()} SINCE ${this.sinceSeconds} seconds ago`;
    const url = new URL(this.queryUrl);
    url.searchParams.set('nrql', nrql);
    const answer = await httpJson({
      provider: this.type,
      url,
      headers: { accept: 'application/json', 'x-query-key': this.queryKey },
      timeoutMs: this.timeoutMs,
      dispatcher: this.dispatcher,
      errorText: (body) => insightsError(body, query),
    });
    return valueOf(answer);
  }

  async isOnline(): Promise<boolean> {
    await this.queryValue(ONLINE_CHECK_QUERY);
    return true;
  }
}

/** The metric's interval in whole seconds, as Flagger truncates it. */
function windowSeconds(settings: ProviderSettings): number {
  const milliseconds = parseGoDuration(settings.interval);
  const seconds = milliseconds === undefined ? 0 : Math.floor(milliseconds / 1000);
  if (seconds < 1) {
    throw new MetricProviderConfigError(
      `${settings.source}: newrelic: the metric interval ${JSON.stringify(settings.interval)} must be a duration of at least 1s, such as "1m"`,
    );
  }
  return seconds;
}

/** New Relic's `{"error": "…"}`, with a hint when the template brought its own SINCE. */
function insightsError(body: string, query: string): string | undefined {
  let error: unknown;
  try {
    error = (JSON.parse(body) as InsightsAnswer).error;
  } catch {
    return undefined;
  }
  if (typeof error !== 'string') return undefined;
  return /\bSINCE\b/i.test(query)
    ? `${error} (Vireo appends SINCE itself: remove SINCE from the template's query)`
    : error;
}

function valueOf(answer: unknown): number {
  const { results, facets, timeSeries, error } = (answer ?? {}) as InsightsAnswer;
  if (typeof error === 'string') throw new MetricQueryError(`newrelic: the query failed: ${error}`);
  if (facets !== undefined) {
    throw new MultipleValuesError(
      'newrelic: a FACET query returns one value per facet; remove FACET from the query',
    );
  }
  if (timeSeries !== undefined) {
    throw new MultipleValuesError(
      'newrelic: a TIMESERIES query returns one value per time bucket; remove TIMESERIES from the query',
    );
  }
  if (!Array.isArray(results)) {
    throw new MetricQueryError(
      `newrelic: the answer has no results list: ${excerpt(JSON.stringify(answer))}`,
    );
  }
  const [only, ...others] = results as unknown[];
  if (only === undefined) throw noValues('newrelic', 'the query returned no results');
  if (others.length > 0) {
    throw new MultipleValuesError(
      `newrelic: the query returned ${results.length} results; select a single function, such as SELECT average(duration)`,
    );
  }
  return singleNumber(only, 'the result');
}

/**
 * The one number in `{"count": 5}`, `{"result": null}` or `{"percentiles": {"95": 0.3}}`; anything
 * with several entries (events of `SELECT *`, several percentiles) is not one value.
 */
function singleNumber(value: unknown, where: string, depth = 0): number {
  if (value === null) throw noValues('newrelic', `${where} is null`);
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
    throw noValues('newrelic', `${where} is ${value}`);
  }
  if (typeof value === 'object' && !Array.isArray(value) && depth < 2) {
    const entries = Object.entries(value);
    const [entry, ...others] = entries;
    if (entry !== undefined && others.length === 0) return singleNumber(entry[1], `"${entry[0]}"`, depth + 1);
    if (entries.length > 1) {
      throw new MultipleValuesError(
        `newrelic: ${where} has ${entries.length} values (${entries.map(([key]) => key).join(', ')}); select a single value`,
      );
    }
  }
  throw new MetricQueryError(
    `newrelic: ${where} is not a number: ${excerpt(JSON.stringify(value))}; use an aggregate function such as average() or count(*)`,
  );
}
