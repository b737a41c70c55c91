/**
 * Apache SkyWalking (Flagger's `skywalking` type): the template's query is a GraphQL document for
 * the OAP query protocol, sent as `POST {address}/graphql` with one variable, `$duration`, the
 * window from now − interval to now at MINUTE step (`{start: "2026-11-23 2039", end: "2026-11-23
 * 2040", step: "MINUTE"}`, written in UTC as Flagger's container clock does). 5 s timeout.
 *
 * Answers: `data` holds one aliased field (`service_apdex: readMetricsValues(…)`) whose
 * `values.values[].value` are one value per minute bucket, oldest first. Flagger's rule is kept:
 * the first bucket with a value wins, which for the usual 1m interval is the last complete
 * minute (the newest bucket is still filling up and often reads 0). GraphQL `errors` are query
 * failures; no bucket with a value means no data.
 *
 * Flagger sends no credentials. Vireo adds optional basic auth (`username` and `password` in the
 * Secret) and `spec.provider.headers`, for an OAP behind an authenticating proxy.
 */
import type { Dispatcher } from 'undici';
import {
  metricIntervalMs,
  MetricProviderConfigError,
  MetricQueryError,
  MultipleValuesError,
  noValues,
  secretLabel,
} from '../errors.js';
import { apiUrl, dispatcherFor, excerpt, httpCall, httpJson } from '../http.js';
import type { MetricsBackend, ProviderDeps, ProviderSettings } from '../provider.js';

export const SKYWALKING_TIMEOUT_MS = 5_000;

/** Older OAPs answer the health check path with 405; Flagger counts that as online too. */
const HEALTH_CHECK_PATH = '/internal/l7check';
const GRAPHQL_PATH = '/graphql';

/** The `Duration` input of the SkyWalking query protocol. */
export interface SkyWalkingDuration {
  readonly start: string;
  readonly end: string;
  readonly step: 'MINUTE';
}

interface GraphQlAnswer {
  data?: unknown;
  errors?: unknown;
}

export class SkyWalkingProvider implements MetricsBackend {
  readonly type = 'skywalking';
  private readonly address: string;
  private readonly windowMs: number;
  private readonly headers: Record<string, string | readonly string[]>;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly timeoutMs: number;
  private readonly now: () => Date;

  constructor(settings: ProviderSettings, deps: ProviderDeps = {}) {
    if (settings.address === undefined || settings.address === '') {
      throw new MetricProviderConfigError(
        `${settings.source}: skywalking needs spec.provider.address, the OAP's query port, such as http://skywalking-oap.skywalking:12800`,
      );
    }
    this.address = settings.address;
    this.windowMs = metricIntervalMs(`${settings.source}: skywalking`, settings.interval);
    this.headers = { ...basicAuthorization(settings), ...settings.headers };
    this.dispatcher = dispatcherFor(settings, deps);
    this.timeoutMs = deps.timeoutMs ?? SKYWALKING_TIMEOUT_MS;
    this.now = deps.now ?? (() => new Date());
  }

  async queryValue(query: string): Promise<number> {
    const end = this.now();
    const duration = minuteDuration(new Date(end.getTime() - this.windowMs), end);
    const answer = (await httpJson({
      provider: this.type,
      url: apiUrl(this.type, this.address, GRAPHQL_PATH),
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...this.headers },
      body: JSON.stringify({ query, variables: { duration } }),
      timeoutMs: this.timeoutMs,
      dispatcher: this.dispatcher,
      errorText: graphQlErrorsOfBody,
    })) as GraphQlAnswer | null;
    if (answer === null || typeof answer !== 'object') {
      throw new MetricQueryError(`skywalking: the answer is not a GraphQL response: ${shown(answer)}`);
    }
    const errors = graphQlErrors(answer);
    if (errors !== undefined) throw new MetricQueryError(`skywalking: the query failed: ${errors}`);
    return valueOf(answer.data, duration);
  }

  async isOnline(): Promise<boolean> {
    try {
      await httpCall({
        provider: this.type,
        url: apiUrl(this.type, this.address, HEALTH_CHECK_PATH),
        headers: this.headers,
        timeoutMs: this.timeoutMs,
        dispatcher: this.dispatcher,
      });
    } catch (error) {
      if (error instanceof MetricQueryError && error.status === 405) return true;
      throw error;
    }
    return true;
  }
}

/** `YYYY-MM-DD HHmm`, the MINUTE-step time format of the query protocol, in UTC. */
export function minuteDuration(start: Date, end: Date): SkyWalkingDuration {
  return { start: minuteOf(start), end: minuteOf(end), step: 'MINUTE' };
}

function minuteOf(time: Date): string {
  const pad = (value: number): string => String(value).padStart(2, '0');
  return (
    `${time.getUTCFullYear()}-${pad(time.getUTCMonth() + 1)}-${pad(time.getUTCDate())} ` +
    `${pad(time.getUTCHours())}${pad(time.getUTCMinutes())}`
  );
}

/** Basic auth when the Secret has `username` and `password`; Flagger itself sends none. */
function basicAuthorization(settings: ProviderSettings): Record<string, string> {
  const username = settings.secret?.['username'] ?? '';
  const password = settings.secret?.['password'] ?? '';
  if (username === '' && password === '') return {};
  if (username === '' || password === '') {
    throw new MetricProviderConfigError(
      `${settings.source}: ${secretLabel(settings.secretName)} needs both "username" and "password" for basic auth, or neither`,
    );
  }
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}

function graphQlErrorsOfBody(body: string): string | undefined {
  try {
    return graphQlErrors(JSON.parse(body) as GraphQlAnswer);
  } catch {
    return undefined;
  }
}

/** The `message` of each GraphQL error, joined; undefined when there are none. */
function graphQlErrors(answer: GraphQlAnswer): string | undefined {
  if (answer === null || typeof answer !== 'object' || !Array.isArray(answer.errors)) return undefined;
  if (answer.errors.length === 0) return undefined;
  return answer.errors
    .map((error: unknown) => {
      const message = (error as { message?: unknown } | null)?.message;
      return typeof message === 'string' ? message : shown(error);
    })
    .join('; ');
}

function valueOf(data: unknown, duration: SkyWalkingDuration): number {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new MetricQueryError(`skywalking: the answer has no data object: ${shown(data)}`);
  }
  const fields = Object.entries(data as Record<string, unknown>);
  const [field, ...others] = fields;
  if (field === undefined) {
    throw new MetricQueryError(
      'skywalking: the answer has no field: the query must select one, such as readMetricsValues',
    );
  }
  if (others.length > 0) {
    throw new MultipleValuesError(
      `skywalking: the query selected ${fields.length} fields (${fields.map(([name]) => name).join(', ')}); select exactly one`,
    );
  }
  const [name, series] = field;
  const buckets = bucketsOf(name, series);
  for (const bucket of buckets) {
    const value = bucketValue(name, bucket);
    if (value !== undefined) return value;
  }
  throw noValues('skywalking', `${name} has no value between ${duration.start} and ${duration.end} UTC`);
}

/**
 * The buckets of one `MetricsValues` (`{label, values: {values: [...]}}`). A labeled query
 * answers a list of them: one is fine, several are several series.
 */
function bucketsOf(name: string, series: unknown): readonly unknown[] {
  if (series === null) throw noValues('skywalking', `${name} is null`);
  if (Array.isArray(series)) {
    const [only, ...others] = series as unknown[];
    if (only === undefined) throw noValues('skywalking', `${name} returned no series`);
    if (others.length > 0) {
      throw new MultipleValuesError(
        `skywalking: ${name} returned ${series.length} series (labels); select one label`,
      );
    }
    return bucketsOf(name, only);
  }
  const buckets = fieldOf(fieldOf(series, 'values'), 'values');
  if (!Array.isArray(buckets)) {
    throw new MetricQueryError(
      `skywalking: ${name} is not metrics values: select "values { values { value } }" (got ${shown(series)})`,
    );
  }
  return buckets as unknown[];
}

function bucketValue(name: string, bucket: unknown): number | undefined {
  if (bucket === null || typeof bucket !== 'object') {
    throw new MetricQueryError(`skywalking: ${name} has a bucket that is not an object: ${shown(bucket)}`);
  }
  const { value, isEmptyValue } = bucket as { value?: unknown; isEmptyValue?: unknown };
  // Newer OAPs mark buckets without telemetry instead of answering null.
  if (value === null || value === undefined || isEmptyValue === true) return undefined;
  const number =
    typeof value === 'number' ? value : typeof value === 'string' && value !== '' ? Number(value) : NaN;
  if (Number.isNaN(number)) {
    throw new MetricQueryError(`skywalking: ${name} has a value that is not a number: ${shown(value)}`);
  }
  return number;
}

/** A JSON value for a message, cut short; `undefined` has no JSON text of its own. */
function shown(value: unknown): string {
  return excerpt(JSON.stringify(value) ?? String(value));
}

/** `object[key]` of a parsed JSON value, or undefined when it is not an object. */
function fieldOf(object: unknown, key: string): unknown {
  return object !== null && typeof object === 'object' ? (object as Record<string, unknown>)[key] : undefined;
}
