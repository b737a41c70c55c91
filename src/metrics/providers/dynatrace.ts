/**
 * Dynatrace (docs/flagger-compatibility.md#42-metric-templates-and-providers), through Metrics API v2:
 * `GET {address}/api/v2/metrics/query?metricSelector=<query>&resolution=Inf&from=<ms>&to=<ms>` over
 * the last 10 intervals, with `Authorization: Api-Token <dynatrace_token>` (scope `metrics.read`).
 * `from` and `to` are UTC epoch milliseconds, one of the formats Dynatrace documents. 5 s timeout.
 *
 * Answers are `{"result": [{"metricId", "data": [{"dimensionMap", "timestamps", "values"}]}]}`, one
 * data series per dimension tuple; `resolution=Inf` folds each into a single value. The value is
 * the last non-null value of the one data series that has any. Unlike Flagger, which silently takes
 * the last series, several series with values are an error: a selector that is not narrowed to the
 * canary (or merged with `:splitBy()`) would otherwise be judged on an arbitrary one. Nulls only, or
 * no series at all, mean no data.
 */
import type { Dispatcher } from 'undici';
import {
  metricIntervalMs,
  MetricProviderConfigError,
  MetricQueryError,
  MultipleValuesError,
  noValues,
  requiredSecretKey,
} from '../errors.js';
import { apiUrl, dispatcherFor, excerpt, httpJson } from '../http.js';
import type { MetricsBackend, ProviderDeps, ProviderSettings } from '../provider.js';

export const DYNATRACE_TIMEOUT_MS = 5_000;
const WINDOW_INTERVALS = 10;

interface DataSeries {
  readonly label: string;
  readonly values: readonly number[];
}

export class DynatraceProvider implements MetricsBackend {
  readonly type = 'dynatrace';
  private readonly queryUrl: URL;
  private readonly metricsUrl: URL;
  private readonly authorization: string;
  private readonly windowMs: number;
  private readonly now: () => Date;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly timeoutMs: number;

  constructor(settings: ProviderSettings, deps: ProviderDeps = {}) {
    if (settings.address === undefined || settings.address === '') {
      throw new MetricProviderConfigError(
        `${settings.source}: dynatrace needs spec.provider.address, such as https://{your-environment-id}.live.dynatrace.com`,
      );
    }
    const token = requiredSecretKey(
      `${settings.source}: dynatrace`,
      settings.secret,
      settings.secretName,
      'dynatrace_token',
    );
    this.authorization = `Api-Token ${token}`;
    this.windowMs = Math.round(
      WINDOW_INTERVALS * metricIntervalMs(`${settings.source}: dynatrace`, settings.interval),
    );
    this.queryUrl = apiUrl(this.type, settings.address, '/api/v2/metrics/query');
    this.metricsUrl = apiUrl(this.type, settings.address, '/api/v2/metrics');
    this.now = deps.now ?? (() => new Date());
    this.dispatcher = dispatcherFor(settings, deps);
    this.timeoutMs = deps.timeoutMs ?? DYNATRACE_TIMEOUT_MS;
  }

  async queryValue(query: string): Promise<number> {
    const to = this.now().getTime();
    const url = new URL(this.queryUrl);
    url.searchParams.set('metricSelector', query.trim());
    url.searchParams.set('resolution', 'Inf');
    url.searchParams.set('from', String(to - this.windowMs));
    url.searchParams.set('to', String(to));
    return valueOf(await this.get(url));
  }

  /** Lists one metric descriptor: cheap, and refused without a valid token. */
  async isOnline(): Promise<boolean> {
    const url = new URL(this.metricsUrl);
    url.searchParams.set('pageSize', '1');
    await this.get(url);
    return true;
  }

  private get(url: URL): Promise<unknown> {
    return httpJson({
      provider: this.type,
      url,
      headers: { accept: 'application/json', authorization: this.authorization },
      timeoutMs: this.timeoutMs,
      dispatcher: this.dispatcher,
      errorText: dynatraceError,
    });
  }
}

/** `{"error": {"code", "message", "constraintViolations": [{"path", "message"}]}}` */
function dynatraceError(body: string): string | undefined {
  let error: { message?: unknown; constraintViolations?: unknown } | undefined;
  try {
    error = (JSON.parse(body) as { error?: typeof error }).error;
  } catch {
    return undefined;
  }
  if (typeof error?.message !== 'string') return undefined;
  const violations = Array.isArray(error.constraintViolations)
    ? (error.constraintViolations as { path?: unknown; message?: unknown }[])
        .filter((violation) => typeof violation?.message === 'string')
        .map((violation) =>
          typeof violation.path === 'string'
            ? `${violation.path}: ${String(violation.message)}`
            : String(violation.message),
        )
    : [];
  return violations.length === 0 ? error.message : `${error.message} ${violations.join('; ')}`;
}

function valueOf(answer: unknown): number {
  const series = dataSeriesOf(answer);
  const withValues = series.filter((entry) => entry.values.length > 0);
  const [only, ...others] = withValues;
  if (only === undefined) {
    const warnings = (answer as { warnings?: unknown }).warnings;
    const warning =
      Array.isArray(warnings) && typeof warnings[0] === 'string' ? `; Dynatrace warns: ${warnings[0]}` : '';
    throw noValues(
      'dynatrace',
      `${series.length === 0 ? 'the selector matched no data series' : 'every value in the window is null'}${warning}`,
    );
  }
  if (others.length > 0) {
    const labels = withValues.slice(0, 3).map((entry) => entry.label);
    throw new MultipleValuesError(
      `dynatrace: the selector returned ${withValues.length} data series with values (${labels.join(', ')}${withValues.length > 3 ? ', …' : ''}); filter it to the canary or merge the series with :splitBy()`,
    );
  }
  return only.values.at(-1) ?? Number.NaN;
}

function dataSeriesOf(answer: unknown): DataSeries[] {
  const result = (answer as { result?: unknown } | null)?.result;
  if (!Array.isArray(result)) {
    throw new MetricQueryError(
      `dynatrace: the answer has no result list: ${excerpt(JSON.stringify(answer))}`,
    );
  }
  return result.flatMap((collection: unknown) => {
    const { metricId, data } = (collection ?? {}) as { metricId?: unknown; data?: unknown };
    if (!Array.isArray(data)) {
      throw new MetricQueryError(`dynatrace: a result of the answer has no data list`);
    }
    return data.map((entry: unknown) => {
      const { values, dimensions } = (entry ?? {}) as { values?: unknown; dimensions?: unknown };
      if (!Array.isArray(values))
        throw new MetricQueryError('dynatrace: a data series of the answer has no values list');
      const finite = values.filter(
        (value): value is number => typeof value === 'number' && Number.isFinite(value),
      );
      const dimensionLabel =
        Array.isArray(dimensions) && dimensions.length > 0 ? ` ${dimensions.map(String).join(',')}` : '';
      return {
        label: `${typeof metricId === 'string' ? metricId : 'metric'}${dimensionLabel}`,
        values: finite,
      };
    });
  });
}
