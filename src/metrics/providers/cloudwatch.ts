/**
 * Amazon CloudWatch (docs/flagger-compatibility.md#42-metric-templates-and-providers): the template's query is a JSON array of MetricDataQuery
 * objects, sent with the official `@aws-sdk/client-cloudwatch` as one `GetMetricData` call over
 * the window [now − 10×interval, now] with `MaxDatapoints: 20` and 3 attempts. `spec.provider.region`
 * is required; credentials come from the SDK's ambient chain (environment, IRSA web identity, EKS Pod
 * Identity, instance role), never from a Secret.
 *
 * The value is the first value of the first MetricDataResult (CloudWatch orders values newest
 * first). Vireo addition: `spec.provider.address` replaces the regional endpoint, for VPC endpoints
 * and local stand-ins.
 *
 * The query's keys are matched case-insensitively against MetricDataQuery's members, as Flagger's
 * Go JSON decoding does, so `"id"` and `"Id"` both work; unknown keys are ignored (and logged).
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  CloudWatchClient,
  GetMetricDataCommand,
  type CloudWatchClientConfig,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import { metricIntervalMs, MetricProviderConfigError, MetricQueryError, noValues } from '../errors.js';
import { excerpt, isHttpUrl } from '../http.js';
import type { MetricsBackend, ProviderDeps, ProviderSettings } from '../provider.js';

/** Per attempt: with 3 attempts and the SDK's backoff, a check gives up after 15 s and a little. */
export const CLOUDWATCH_ATTEMPT_TIMEOUT_MS = 5_000;
export const CLOUDWATCH_ATTEMPTS = 3;
export const CLOUDWATCH_MAX_DATAPOINTS = 20;
/** Flagger's window: ten intervals back from now. */
const WINDOW_INTERVALS = 10;

const PROVIDER = 'cloudwatch';

/** What the factory does not pass: a credentials override (tests, or a caller that resolved them). */
export interface CloudWatchOptions {
  /** Static credentials or a provider; without it, the SDK's default chain. */
  readonly credentials?: CloudWatchClientConfig['credentials'];
}

export class CloudWatchProvider implements MetricsBackend {
  readonly type = PROVIDER;
  private readonly client: CloudWatchClient;
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly windowMs: number;
  private readonly now: () => Date;
  private readonly logger: ProviderDeps['logger'];

  constructor(settings: ProviderSettings, deps: ProviderDeps = {}, options: CloudWatchOptions = {}) {
    const region = settings.region ?? '';
    if (region === '') {
      throw new MetricProviderConfigError(
        `${settings.source}: ${PROVIDER} needs spec.provider.region, the AWS region of the metrics, such as us-east-1`,
      );
    }
    const address = validAddress(settings);
    this.endpoint = address ?? `https://monitoring.${region}.amazonaws.com`;
    this.windowMs = WINDOW_INTERVALS * metricIntervalMs(`${settings.source}: ${PROVIDER}`, settings.interval);
    this.now = deps.now ?? (() => new Date());
    this.logger = deps.logger;
    const timeoutMs = deps.timeoutMs ?? CLOUDWATCH_ATTEMPT_TIMEOUT_MS;
    this.timeoutMs = timeoutMs;
    this.client = new CloudWatchClient({
      region,
      maxAttempts: CLOUDWATCH_ATTEMPTS,
      ...(address === undefined ? {} : { endpoint: address }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      requestHandler: {
        connectionTimeout: timeoutMs,
        requestTimeout: timeoutMs,
        // Without it the handler only logs a warning and keeps waiting.
        throwOnRequestTimeout: true,
        // A provider lives for one check: kept-alive sockets would only pile up between checks.
        httpsAgent: new HttpsAgent({
          keepAlive: false,
          rejectUnauthorized: settings.insecureSkipVerify !== true,
        }),
        httpAgent: new HttpAgent({ keepAlive: false }),
      },
    });
  }

  async queryValue(query: string): Promise<number> {
    const queries = parseQueries(query, (key, path) =>
      this.logger?.warn(
        { provider: PROVIDER, key, path },
        'cloudwatch: ignoring an unknown key of the query',
      ),
    );
    const values = await this.firstResultValues(queries);
    const value = values[0];
    if (value === undefined) throw noValues(PROVIDER, 'GetMetricData returned no datapoints');
    return value;
  }

  /**
   * One GetMetricData call for a metric nobody publishes: it needs the same credentials and the
   * same `cloudwatch:GetMetricData` permission as the real queries, and costs nothing.
   */
  async isOnline(): Promise<boolean> {
    await this.firstResultValues([
      {
        Id: 'vireo_online',
        MetricStat: { Metric: { Namespace: 'Vireo/Online', MetricName: 'probe' }, Period: 60, Stat: 'Sum' },
      },
    ]);
    return true;
  }

  private async firstResultValues(queries: MetricDataQuery[]): Promise<number[]> {
    const end = this.now();
    const command = new GetMetricDataCommand({
      MetricDataQueries: queries,
      StartTime: new Date(end.getTime() - this.windowMs),
      EndTime: end,
      MaxDatapoints: CLOUDWATCH_MAX_DATAPOINTS,
    });
    let output;
    try {
      output = await this.client.send(command);
    } catch (cause) {
      throw awsFailure(cause, this.endpoint, this.timeoutMs);
    }
    const first = output.MetricDataResults?.[0];
    if (first === undefined) return [];
    return (first.Values ?? []).filter((value): value is number => typeof value === 'number');
  }
}

function validAddress(settings: ProviderSettings): string | undefined {
  const address = settings.address ?? '';
  if (address === '') return undefined;
  if (!isHttpUrl(address)) {
    throw new MetricProviderConfigError(
      `${settings.source}: ${PROVIDER} address ${JSON.stringify(address)} is not an http(s) URL: set spec.provider.address to an endpoint such as https://monitoring.us-east-1.amazonaws.com, or remove it`,
    );
  }
  return address;
}

// ---- the query: a JSON array of MetricDataQuery -------------------------------------------------

type Field = 'string' | 'number' | 'boolean' | Shape | readonly [Shape];
interface Shape {
  readonly [member: string]: Field;
}

const DIMENSION: Shape = { Name: 'string', Value: 'string' };
const METRIC: Shape = { Namespace: 'string', MetricName: 'string', Dimensions: [DIMENSION] };
const METRIC_STAT: Shape = { Metric: METRIC, Period: 'number', Stat: 'string', Unit: 'string' };
const METRIC_DATA_QUERY: Shape = {
  Id: 'string',
  MetricStat: METRIC_STAT,
  Expression: 'string',
  Label: 'string',
  ReturnData: 'boolean',
  Period: 'number',
  AccountId: 'string',
};

type UnknownKey = (key: string, path: string) => void;

class QueryShapeError extends Error {}

/** The rendered query as MetricDataQuery objects, or an error saying what is wrong where. */
function parseQueries(query: string, onUnknownKey: UnknownKey = () => undefined): MetricDataQuery[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(query);
  } catch (cause) {
    throw queryError(`it is not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw queryError(`it must be a non-empty JSON array, not ${describe(parsed)}`);
  }
  try {
    return parsed.map((item, index) => {
      const normalized = normalize(item, METRIC_DATA_QUERY, `[${index}]`, onUnknownKey);
      const id = normalized['Id'];
      if (typeof id !== 'string' || id === '') throw new QueryShapeError(`[${index}] has no "Id"`);
      // Every other member was checked against METRIC_DATA_QUERY, which mirrors the SDK's type.
      return { ...normalized, Id: id };
    });
  } catch (error) {
    if (error instanceof QueryShapeError) throw queryError(error.message);
    throw error;
  }
}

function queryError(problem: string): MetricProviderConfigError {
  return new MetricProviderConfigError(
    `${PROVIDER}: the query must be a JSON array of MetricDataQuery objects ([{"Id": "m1", "MetricStat": {…}}, …]): ${problem}`,
  );
}

function normalize(
  value: unknown,
  shape: Shape,
  path: string,
  onUnknownKey: UnknownKey,
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new QueryShapeError(`${path} must be an object, not ${describe(value)}`);
  }
  const members = new Map(Object.keys(shape).map((member) => [member.toLowerCase(), member]));
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const member = members.get(key.toLowerCase());
    const field = member === undefined ? undefined : shape[member];
    if (member === undefined || field === undefined) {
      onUnknownKey(key, path);
      continue;
    }
    result[member] = normalizeField(item, field, `${path}.${member}`, onUnknownKey);
  }
  return result;
}

function normalizeField(value: unknown, field: Field, path: string, onUnknownKey: UnknownKey): unknown {
  if (typeof field === 'string') {
    if (typeof value !== field)
      throw new QueryShapeError(`${path} must be a ${field}, not ${describe(value)}`);
    return value;
  }
  if (isArrayField(field)) {
    if (!Array.isArray(value)) throw new QueryShapeError(`${path} must be an array, not ${describe(value)}`);
    return value.map((item, index) => normalize(item, field[0], `${path}[${index}]`, onUnknownKey));
  }
  return normalize(value, field, path, onUnknownKey);
}

function isArrayField(field: Shape | readonly [Shape]): field is readonly [Shape] {
  return Array.isArray(field);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${excerpt(JSON.stringify(value))}`;
}

// ---- errors --------------------------------------------------------------------------------------

interface AwsErrorShape {
  name?: unknown;
  message?: unknown;
  Code?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** SDK errors as MetricQueryError: AWS's own code and message, or why the endpoint was not reached. */
function awsFailure(cause: unknown, endpoint: string, timeoutMs: number): MetricQueryError {
  const error = (typeof cause === 'object' && cause !== null ? cause : {}) as AwsErrorShape;
  const name = typeof error.name === 'string' ? error.name : 'Error';
  const message = excerpt(typeof error.message === 'string' ? error.message : String(cause));
  const status = error.$metadata?.httpStatusCode;
  if (typeof status === 'number' && name === 'SyntaxError') {
    // The SDK could not read the answer: a proxy's page, or an endpoint that is not CloudWatch.
    const parserMessage = message.split(' Deserialization error')[0] ?? message;
    return new MetricQueryError(
      `${PROVIDER}: ${endpoint} answered HTTP ${status} with something that is not AWS JSON (${parserMessage}): is it a CloudWatch endpoint?`,
      { status },
    );
  }
  if (typeof status === 'number') {
    const code = typeof error.Code === 'string' ? error.Code : name;
    return new MetricQueryError(`${PROVIDER}: GetMetricData failed (HTTP ${status}): ${code}: ${message}`, {
      status,
    });
  }
  if (name === 'CredentialsProviderError') {
    return new MetricQueryError(
      `${PROVIDER}: no AWS credentials: ${message}: give Vireo's ServiceAccount an IAM role (IRSA or EKS Pod Identity) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
      { cause },
    );
  }
  const code = typeof error.code === 'string' && !message.includes(error.code) ? `${error.code}: ` : '';
  const reason =
    name === 'TimeoutError'
      ? `no answer within ${timeoutMs} ms (${CLOUDWATCH_ATTEMPTS} attempts)`
      : `${code}${message}`;
  return new MetricQueryError(`${PROVIDER}: cannot reach ${endpoint}: ${reason}`, { cause });
}
