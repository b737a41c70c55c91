/**
 * Prometheus (docs/flagger-compatibility.md#42-metric-templates-and-providers): `GET {address}/api/v1/query?query=…` with the query's whitespace
 * collapsed, a 5 s timeout, Bearer token or basic auth from the Secret, `spec.provider.headers`
 * replacing request headers of the same name, and insecureSkipVerify for self-signed endpoints.
 *
 * Answers: a vector gives its last series' value (Flagger's rule), a scalar its value; a matrix
 * means the query asked for a range and is an error; an empty vector or NaN means no data.
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

export const PROMETHEUS_TIMEOUT_MS = 5_000;

interface PrometheusAnswer {
  status?: string;
  errorType?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

export class PrometheusProvider implements MetricsBackend {
  readonly type = 'prometheus';
  private readonly address: string;
  private readonly headers: Record<string, string | readonly string[]>;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly timeoutMs: number;
  private readonly logger: ProviderDeps['logger'];

  constructor(settings: ProviderSettings, deps: ProviderDeps = {}) {
    if (settings.address === undefined || settings.address === '') {
      throw new MetricProviderConfigError(
        `${settings.source}: prometheus needs spec.provider.address, such as http://prometheus.monitoring:9090`,
      );
    }
    this.address = settings.address;
    this.headers = { ...authorization(settings), ...settings.headers };
    this.dispatcher = dispatcherFor(settings, deps);
    this.timeoutMs = deps.timeoutMs ?? PROMETHEUS_TIMEOUT_MS;
    this.logger = deps.logger;
  }

  async queryValue(query: string): Promise<number> {
    const collapsed = query.replace(/\s+/g, ' ').trim();
    const url = apiUrl(this.type, this.address, '/api/v1/query');
    url.searchParams.set('query', collapsed);
    const answer = (await httpJson({
      provider: this.type,
      url,
      headers: { accept: 'application/json', ...this.headers },
      timeoutMs: this.timeoutMs,
      dispatcher: this.dispatcher,
      errorText: prometheusError,
    })) as PrometheusAnswer;
    if (answer.status !== 'success' || typeof answer.data !== 'object' || answer.data === null) {
      throw new MetricQueryError(
        `prometheus: the query failed: ${answer.errorType ?? 'error'}: ${answer.error ?? excerpt(JSON.stringify(answer))}`,
      );
    }
    const { resultType, result } = answer.data;
    if (resultType === 'vector' && Array.isArray(result) && result.length > 1) {
      this.logger?.warn(
        { series: result.length },
        `prometheus: the query returned ${result.length} series; using the last one, as Flagger does: aggregate them (sum, max, avg) so the check reads the value you mean`,
      );
    }
    return valueOf(resultType, result);
  }

  async isOnline(): Promise<boolean> {
    const value = await this.queryValue('vector(1)');
    if (value !== 1) throw new MetricQueryError(`prometheus: vector(1) returned ${value}, not 1`);
    return true;
  }
}

/** The Secret's `token` as a Bearer token, else `username` and `password` (both required then). */
function authorization(settings: ProviderSettings): Record<string, string> {
  const { secret } = settings;
  if (secret === undefined) return {};
  const token = secret['token'];
  if (token !== undefined && token !== '') return { authorization: `Bearer ${token}` };
  const username = secret['username'];
  const password = secret['password'];
  if (username === undefined || username === '' || password === undefined || password === '') {
    throw new MetricProviderConfigError(
      `${settings.source}: ${secretLabel(settings.secretName)} needs either a "token" key (Bearer) or both "username" and "password" (basic auth)`,
    );
  }
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}

function prometheusError(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as PrometheusAnswer;
    return parsed.error === undefined ? undefined : `${parsed.errorType ?? 'error'}: ${parsed.error}`;
  } catch {
    return undefined;
  }
}

function valueOf(resultType: string | undefined, result: unknown): number {
  if (resultType === 'matrix') {
    throw new MultipleValuesError(
      'prometheus: the query returned a range (matrix); use an instant query that returns one value, such as sum(rate(…[1m]))',
    );
  }
  if (resultType === 'scalar') return sampleValue(result);
  if (resultType !== 'vector' || !Array.isArray(result)) {
    throw new MetricQueryError(`prometheus: unexpected result type ${String(resultType)}`);
  }
  // Flagger's rule: several series are not an error, the last one wins.
  const last = (result as { value?: unknown }[]).at(-1);
  if (last === undefined) throw noValues('prometheus', 'the query returned an empty vector');
  return sampleValue(last.value);
}

/** How Prometheus writes a float (Go's strconv.FormatFloat): decimal or exponent, ±Inf, NaN. */
const PROMETHEUS_FLOAT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function sampleValue(sample: unknown): number {
  const text = Array.isArray(sample) ? (sample[1] as unknown) : undefined;
  if (typeof text !== 'string') throw new MetricQueryError('prometheus: a sample without a value');
  if (text === 'NaN') throw noValues('prometheus', 'the query returned NaN');
  if (/^[+-]?Inf$/.test(text))
    return text.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  // Number() would read "" and " " as 0 and "0x10" as 16: a check must not pass on a value that is not one.
  if (!PROMETHEUS_FLOAT.test(text)) {
    throw new MetricQueryError(
      `prometheus: the sample value ${JSON.stringify(text.slice(0, 40))} is not a number`,
    );
  }
  return Number(text);
}
