/**
 * Datadog (docs/flagger-compatibility.md#42-metric-templates-and-providers), through the official client `@datadog/datadog-api-client`:
 * `MetricsApi.queryMetrics`, i.e. `GET {address or https://api.datadoghq.com}/api/v1/query` with
 * `from` = now − 10 × interval and `to` = now in Unix seconds, the Secret's `datadog_api_key` in
 * `DD-API-KEY` and `datadog_application_key` in `DD-APPLICATION-KEY`. `isOnline` is
 * `AuthenticationApi.validate` (`GET /api/v1/validate`), which checks the API key only.
 *
 * The value is the first point of the first series, as in Flagger: points are oldest first, and the
 * newest bucket of a window that ends now is usually still filling up. Several series are not an
 * error. No series, no points or a null value mean no data.
 *
 * The client is pointed at the address through its `baseServer` option and sends its requests
 * through our own `HttpLibrary` (its documented extension point): one attempt, a timeout per
 * request (5 s by default), insecureSkipVerify, and no logging, where the client's default fetch
 * library logs every network failure on the console. The package is large (seconds to load), so it
 * is imported the first time a Datadog template is used, not when Vireo starts.
 */
import type { client, v1 } from '@datadog/datadog-api-client';
import { request, type Dispatcher } from 'undici';
import {
  metricIntervalMs,
  MetricProviderConfigError,
  MetricQueryError,
  noValues,
  requiredSecretKey,
} from '../errors.js';
import { apiUrl, dispatcherFor, endpointOf, excerpt, failureReason, readCapped } from '../http.js';
import type { MetricsBackend, ProviderDeps, ProviderSettings } from '../provider.js';

export const DATADOG_TIMEOUT_MS = 5_000;
export const DATADOG_DEFAULT_ADDRESS = 'https://api.datadoghq.com';
const WINDOW_INTERVALS = 10;
const QUERY_PATH = '/api/v1/query';
const VALIDATE_PATH = '/api/v1/validate';

type DatadogModule = typeof import('@datadog/datadog-api-client');

let datadogModule: Promise<DatadogModule> | undefined;

/** Loads the client once, on first use. */
function loadDatadog(): Promise<DatadogModule> {
  datadogModule ??= import('@datadog/datadog-api-client').catch((cause: unknown) => {
    datadogModule = undefined;
    throw new MetricQueryError(
      `datadog: cannot load @datadog/datadog-api-client: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  });
  return datadogModule;
}

interface DatadogApis {
  readonly metrics: v1.MetricsApi;
  readonly authentication: v1.AuthenticationApi;
  readonly ApiException: DatadogModule['client']['ApiException'];
}

interface Transport {
  readonly timeoutMs: number;
  readonly dispatcher: Dispatcher | undefined;
}

export class DatadogProvider implements MetricsBackend {
  readonly type = 'datadog';
  private readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly applicationKey: string;
  private readonly windowSeconds: number;
  private readonly now: () => Date;
  private readonly transport: Transport;
  private readonly logger: ProviderDeps['logger'];
  private apis: Promise<DatadogApis> | undefined;

  constructor(settings: ProviderSettings, deps: ProviderDeps = {}) {
    const provider = `${settings.source}: datadog`;
    this.apiKey = requiredSecretKey(provider, settings.secret, settings.secretName, 'datadog_api_key');
    this.applicationKey = requiredSecretKey(
      provider,
      settings.secret,
      settings.secretName,
      'datadog_application_key',
    );
    this.windowSeconds = Math.floor(
      (WINDOW_INTERVALS * metricIntervalMs(provider, settings.interval)) / 1000,
    );
    if (this.windowSeconds < 1) {
      throw new MetricProviderConfigError(
        `${provider}: the metric interval ${JSON.stringify(settings.interval)} makes a query window under 1s: use at least "100ms"`,
      );
    }
    const address =
      settings.address === undefined || settings.address === '' ? DATADOG_DEFAULT_ADDRESS : settings.address;
    // The client appends `/api/v1/…` to the base as is: keep a proxy's path prefix, drop a trailing slash.
    this.baseUrl = apiUrl(this.type, address, '/').href.replace(/\/$/, '');
    this.now = deps.now ?? (() => new Date());
    this.logger = deps.logger;
    this.transport = {
      timeoutMs: deps.timeoutMs ?? DATADOG_TIMEOUT_MS,
      dispatcher: dispatcherFor(settings, deps),
    };
  }

  async queryValue(query: string): Promise<number> {
    const { metrics, ApiException } = await this.clients();
    const to = Math.floor(this.now().getTime() / 1000);
    let answer: v1.MetricsQueryResponse;
    try {
      answer = await metrics.queryMetrics({ from: to - this.windowSeconds, to, query: query.trim() });
    } catch (error) {
      throw this.failure(error, QUERY_PATH, ApiException);
    }
    const series: unknown = answer.series;
    if (Array.isArray(series) && series.length > 1) {
      this.logger?.warn(
        { series: series.length },
        `datadog: the query returned ${series.length} series; using the first one, as Flagger does: aggregate them (sum:, max:, avg: without "by") so the check reads the value you mean`,
      );
    }
    return valueOf(answer);
  }

  async isOnline(): Promise<boolean> {
    const { authentication, ApiException } = await this.clients();
    let answer: v1.AuthenticationValidationResponse;
    try {
      answer = await authentication.validate();
    } catch (error) {
      throw this.failure(error, VALIDATE_PATH, ApiException);
    }
    if (answer.valid !== true) {
      throw new MetricQueryError(
        `datadog: ${this.endpoint(VALIDATE_PATH)} did not confirm that the API key is valid`,
      );
    }
    return true;
  }

  private clients(): Promise<DatadogApis> {
    this.apis ??= loadDatadog().then((datadog) => {
      const configuration = datadog.client.createConfiguration({
        baseServer: new datadog.client.BaseServerConfiguration(this.baseUrl, {}),
        authMethods: { apiKeyAuth: this.apiKey, appKeyAuth: this.applicationKey },
        httpApi: new UndiciHttpLibrary(this.transport, datadog.client.ResponseContext),
        enableRetry: false,
        debug: false,
      });
      return {
        metrics: new datadog.v1.MetricsApi(configuration),
        authentication: new datadog.v1.AuthenticationApi(configuration),
        ApiException: datadog.client.ApiException,
      };
    });
    // A failed load is retried by the next check rather than remembered.
    this.apis.catch(() => {
      this.apis = undefined;
    });
    return this.apis;
  }

  private endpoint(path: string): string {
    return endpointOf(new URL(`${this.baseUrl}${path}`));
  }

  /** The client's errors as MetricQueryError: its ApiException carries the status and Datadog's body. */
  private failure(error: unknown, path: string, ApiException: DatadogApis['ApiException']): MetricQueryError {
    if (error instanceof MetricQueryError) return error;
    const endpoint = this.endpoint(path);
    if (error instanceof ApiException) {
      const code = error.code;
      const detail = datadogError(error.body as unknown);
      return new MetricQueryError(
        `datadog: ${endpoint} answered HTTP ${code}${detail === '' ? '' : `: ${detail}`}`,
        {
          status: code,
        },
      );
    }
    // The client throws TypeErrors when an answer does not have the documented shape.
    const message = error instanceof Error ? error.message : String(error);
    return new MetricQueryError(`datadog: the answer of ${endpoint} could not be read: ${excerpt(message)}`, {
      cause: error,
    });
  }
}

/**
 * Datadog's `{"errors": ["…"]}`, or the raw body the client wraps as
 * `Unknown API Status Code!\nBody: "…"` for statuses its API description does not list.
 */
function datadogError(body: unknown): string {
  const errors = (body as { errors?: unknown } | null | undefined)?.errors;
  if (Array.isArray(errors)) return excerpt(errors.map(String).join('; '));
  if (typeof body === 'string') {
    const raw = /^Unknown API Status Code!\s*Body: "([\s\S]*)"$/.exec(body)?.[1] ?? body;
    return excerpt(raw);
  }
  return body === undefined || body === null ? '' : excerpt(JSON.stringify(body));
}

function valueOf(answer: v1.MetricsQueryResponse): number {
  if (answer.status === 'error' || (typeof answer.error === 'string' && answer.error !== '')) {
    throw new MetricQueryError(
      `datadog: the query failed: ${answer.error ?? answer.message ?? 'status error'}`,
    );
  }
  const series: unknown = answer.series;
  if (!Array.isArray(series)) {
    throw new MetricQueryError(`datadog: the answer has no series list: ${excerpt(JSON.stringify(answer))}`);
  }
  const first = series[0] as { pointlist?: unknown } | undefined;
  if (first === undefined) throw noValues('datadog', 'the query returned no series');
  const pointlist = first.pointlist;
  if (!Array.isArray(pointlist) || pointlist.length === 0) {
    throw noValues('datadog', 'the first series has no points');
  }
  const point: unknown = pointlist[0];
  if (!Array.isArray(point))
    throw new MetricQueryError('datadog: the first point is not a [timestamp, value] pair');
  const value: unknown = point[1];
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (value === null || value === undefined || typeof value === 'number') {
    throw noValues('datadog', `the first point of the first series is ${String(value)}`);
  }
  throw new MetricQueryError(
    `datadog: the first point's value is not a number: ${excerpt(JSON.stringify(value))}`,
  );
}

/**
 * The client's transport: plain undici, a single attempt with a timeout, and failures as
 * MetricQueryError naming the endpoint only (the query string and the key headers stay out).
 * Any HTTP status is handed back to the client, which turns errors into ApiException.
 */
class UndiciHttpLibrary implements client.HttpLibrary {
  constructor(
    private readonly transport: Transport,
    private readonly ResponseContext: DatadogModule['client']['ResponseContext'],
  ) {}

  async send(context: client.RequestContext): Promise<client.ResponseContext> {
    const url = new URL(context.getUrl());
    const { timeoutMs, dispatcher } = this.transport;
    const body = context.getBody();
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, {
        method: context.getHttpMethod() as Dispatcher.HttpMethod,
        headers: context.getHeaders(),
        ...(typeof body === 'string' ? { body } : {}),
        signal: AbortSignal.timeout(timeoutMs),
        ...(dispatcher === undefined ? {} : { dispatcher }),
      });
    } catch (cause) {
      throw new MetricQueryError(
        `datadog: cannot reach ${endpointOf(url)}: ${failureReason(cause, timeoutMs)}`,
        {
          cause,
        },
      );
    }
    let text: string;
    try {
      text = await readCapped(response.body);
    } catch (cause) {
      throw new MetricQueryError(
        `datadog: reading the answer of ${endpointOf(url)} failed: ${failureReason(cause, timeoutMs)}`,
        { cause, status: response.statusCode },
      );
    }
    const headers = flatHeaders(response.headers);
    if (response.statusCode < 300) requireJson(url, response.statusCode, headers['content-type'], text);
    return new this.ResponseContext(response.statusCode, headers, {
      text: () => Promise.resolve(text),
      binary: () => Promise.resolve(Buffer.from(text, 'utf8')),
    });
  }
}

/** The client reads any unparsable body as an empty answer: say what came instead. */
function requireJson(url: URL, status: number, contentType: string | undefined, text: string): void {
  try {
    JSON.parse(text);
  } catch {
    throw new MetricQueryError(
      `datadog: ${endpointOf(url)} answered HTTP ${status} with something that is not JSON (${contentType ?? 'no content type'}): ${excerpt(text)}`,
      { status },
    );
  }
}

function flatHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}
