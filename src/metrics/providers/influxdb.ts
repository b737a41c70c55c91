/**
 * InfluxDB 2.x (docs/flagger-compatibility.md#42-metric-templates-and-providers): the template's query is Flux, sent with the official client
 * `@influxdata/influxdb-client` as `POST {address}/api/v2/query?org=<org>` (`Authorization: Token …`,
 * JSON body with the annotated-CSV dialect) under a 15 s deadline. The Secret gives `token` and `org`.
 *
 * The value is the `_value` of the first record of the first table. Flagger accepts only a float
 * there; Vireo also accepts the integer types (`long`, `unsignedLong`), because `count()` and
 * integer fields give those and there is no reason to fail them. A null or NaN `_value` or no
 * records at all mean no data; any other type (string, boolean, time) is an error naming the type.
 */
import {
  InfluxDB,
  type FluxTableColumn,
  type FluxTableMetaData,
  type QueryApi,
} from '@influxdata/influxdb-client';
import { MetricProviderConfigError, MetricQueryError, noValues, requiredSecretKey } from '../errors.js';
import { endpointOf, excerpt, isHttpUrl } from '../http.js';
import type { MetricsBackend, ProviderDeps, ProviderSettings } from '../provider.js';

export const INFLUXDB_TIMEOUT_MS = 15_000;

const PROVIDER = 'influxdb';
const INTEGER_TYPES = new Set(['long', 'unsignedLong']);

/** A record as the client yields it: raw CSV cells and the table's column annotations. */
interface FluxRecord {
  readonly values: readonly string[];
  readonly tableMeta: FluxTableMetaData;
}

export class InfluxDBProvider implements MetricsBackend {
  readonly type = PROVIDER;
  private readonly address: string;
  private readonly token: string;
  private readonly org: string;
  private readonly insecureSkipVerify: boolean;
  private readonly timeoutMs: number;

  constructor(settings: ProviderSettings, deps: ProviderDeps = {}) {
    this.address = validAddress(settings);
    const label = `${settings.source}: ${PROVIDER}`;
    this.token = requiredSecretKey(label, settings.secret, settings.secretName, 'token');
    this.org = requiredSecretKey(label, settings.secret, settings.secretName, 'org');
    this.insecureSkipVerify = settings.insecureSkipVerify === true;
    this.timeoutMs = deps.timeoutMs ?? INFLUXDB_TIMEOUT_MS;
  }

  async queryValue(query: string): Promise<number> {
    const endpoint = this.endpoint('/api/v2/query');
    const record = await this.withDeadline(endpoint, (client) =>
      firstRecord(client.getQueryApi(this.org), query),
    );
    if (record === undefined) throw noValues(PROVIDER, 'the query returned no records');
    return recordValue(record);
  }

  /**
   * `GET /ping`, which InfluxDB OSS 2.x and InfluxDB Cloud both serve (`/health` is OSS only). It
   * proves the server answers, not that the token and org are right: the first query does that.
   */
  async isOnline(): Promise<boolean> {
    const endpoint = this.endpoint('/ping');
    await this.withDeadline(
      endpoint,
      (client) => client.transport.request('/ping', '', { method: 'GET' }) as Promise<unknown>,
    );
    return true;
  }

  /**
   * Runs one call with a fresh client whose requests carry an abort signal: the client's own
   * `timeout` is a socket idle timeout that leaves the request open, the signal ends it for good.
   */
  private async withDeadline<T>(endpoint: string, call: (client: InfluxDB) => Promise<T>): Promise<T> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.timeoutMs);
    try {
      const client = new InfluxDB({
        url: this.address,
        token: this.token,
        timeout: this.timeoutMs,
        transportOptions: {
          signal: deadline.signal,
          ...(this.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
        },
      });
      return await call(client);
    } catch (cause) {
      // Once the deadline passed, whatever the client reports (a reset stream, say) is a timeout.
      throw queryFailure(cause, endpoint, this.timeoutMs, deadline.signal.aborted);
    } finally {
      clearTimeout(timer);
    }
  }

  private endpoint(path: string): string {
    const base = new URL(this.address);
    return endpointOf(new URL(`${base.pathname.replace(/\/+$/, '')}${path}`, base));
  }
}

function validAddress(settings: ProviderSettings): string {
  const address = settings.address ?? '';
  if (address === '') {
    throw new MetricProviderConfigError(
      `${settings.source}: ${PROVIDER} needs spec.provider.address, such as http://influxdb.monitoring:8086`,
    );
  }
  if (!isHttpUrl(address)) {
    throw new MetricProviderConfigError(
      `${settings.source}: ${PROVIDER} address ${JSON.stringify(address)} is not an http(s) URL: set spec.provider.address to http(s)://host:port`,
    );
  }
  return address;
}

/** The first record of the answer; leaving the loop early closes the response stream. */
async function firstRecord(queryApi: QueryApi, query: string): Promise<FluxRecord | undefined> {
  for await (const row of queryApi.iterateRows(query)) {
    return row;
  }
  return undefined;
}

function recordValue({ values, tableMeta }: FluxRecord): number {
  const column = tableMeta.columns.find((candidate) => candidate.label === '_value');
  if (column === undefined) throw recordWithoutValue(values, tableMeta);
  const text = cell(values, column);
  if (text === '') throw noValues(PROVIDER, 'the first record has a null _value');
  if (column.dataType === 'double') return doubleValue(text);
  if (INTEGER_TYPES.has(column.dataType)) return integerValue(text);
  throw new MetricQueryError(
    `${PROVIDER}: the first record's _value is of type ${JSON.stringify(column.dataType || 'unknown')} (${JSON.stringify(excerpt(text))}), not a number: select a numeric field or convert it with toFloat()`,
  );
}

/** A record without `_value` is either InfluxDB's in-band error table or a query that dropped it. */
function recordWithoutValue(values: readonly string[], tableMeta: FluxTableMetaData): MetricQueryError {
  const errorColumn = tableMeta.columns.find((candidate) => candidate.label === 'error');
  if (errorColumn !== undefined) {
    return new MetricQueryError(`${PROVIDER}: the query failed: ${excerpt(cell(values, errorColumn))}`);
  }
  const labels = tableMeta.columns.map((candidate) => candidate.label).join(', ');
  return new MetricQueryError(
    `${PROVIDER}: the first record has no _value column (columns: ${labels}): keep _value in the query's result`,
  );
}

/** The raw cell, or the column's `#default` annotation when the cell is empty. */
function cell(values: readonly string[], column: FluxTableColumn): string {
  const raw = values[column.index] ?? '';
  return raw === '' ? column.defaultValue : raw;
}

function doubleValue(text: string): number {
  if (text === 'NaN') throw noValues(PROVIDER, 'the first record has a NaN _value');
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  const value = Number(text);
  if (Number.isNaN(value)) {
    throw new MetricQueryError(
      `${PROVIDER}: the first record's double _value ${JSON.stringify(excerpt(text))} is not a number`,
    );
  }
  return value;
}

function integerValue(text: string): number {
  if (!/^-?[0-9]+$/.test(text)) {
    throw new MetricQueryError(
      `${PROVIDER}: the first record's integer _value ${JSON.stringify(excerpt(text))} is not a number`,
    );
  }
  return Number(text);
}

/** The client's errors (HttpError, RequestTimedOutError, AbortError, socket errors) as one message. */
function queryFailure(cause: unknown, endpoint: string, timeoutMs: number, late: boolean): MetricQueryError {
  const error = cause as { name?: unknown; message?: unknown; statusCode?: unknown; code?: unknown };
  const message = typeof error.message === 'string' ? error.message : String(cause);
  if (error.name === 'HttpError' && typeof error.statusCode === 'number') {
    return new MetricQueryError(
      `${PROVIDER}: ${endpoint} answered HTTP ${error.statusCode}: ${excerpt(message)}`,
      {
        status: error.statusCode,
      },
    );
  }
  if (late || error.name === 'RequestTimedOutError' || error.name === 'AbortError') {
    return new MetricQueryError(`${PROVIDER}: cannot reach ${endpoint}: no answer within ${timeoutMs} ms`, {
      cause,
    });
  }
  const code = typeof error.code === 'string' && !message.includes(error.code) ? `${error.code}: ` : '';
  return new MetricQueryError(`${PROVIDER}: cannot reach ${endpoint}: ${code}${message}`, { cause });
}
