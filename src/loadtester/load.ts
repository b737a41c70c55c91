/**
 * The built-in load generator (`metadata.type: load`): HTTP traffic at a total rate for a bounded
 * time, so a load test runs where `hey` is not installed, and (with `wait: "true"`) returns a
 * report a person or a script can read. Requests go through one undici Pool per run, with as many
 * connections as workers.
 */
import { Pool } from 'undici';
import { formatDuration, parseGoDuration } from '../api/duration.js';
import type { Clock } from './clock.js';
import { InvalidTaskError } from './errors.js';
import { guardedLookup, type TargetPolicy } from './targets.js';

export const LOAD_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export const DEFAULT_LOAD_DURATION_MS = 60_000;
export const MAX_LOAD_DURATION_MS = 3_600_000;
export const DEFAULT_QPS = 10;
export const MAX_QPS = 100_000;
export const DEFAULT_CONCURRENCY = 2;
export const MAX_CONCURRENCY = 1_000;
// Latencies kept for the percentiles: a uniform sample beyond this (an hour at full speed would
// otherwise hold millions of numbers).
const LATENCY_SAMPLES = 100_000;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// undici sets these itself; a caller's value would contradict the body it sends.
const MANAGED_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'upgrade']);

export interface LoadSpec {
  readonly url: URL;
  readonly method: (typeof LOAD_METHODS)[number];
  readonly durationMs: number;
  /** Total requests per second over all workers; 0 means as fast as the workers go. */
  readonly qps: number;
  readonly concurrency: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface LoadReport {
  /** Requests that completed or failed (an answer of any status, or a transport error). */
  readonly requests: number;
  /** Transport errors (no answer) plus 5xx answers. */
  readonly errors: number;
  /** Percentage of requests answered with a status below 500, as Flagger's request-success-rate. */
  readonly successRate: number;
  readonly rps: number;
  /** Latency of answered requests, from sending to the last byte of the body. */
  readonly latencyMs: {
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
  };
  /** Answers per HTTP status. */
  readonly statusCodes: Readonly<Record<string, number>>;
  readonly durationMs: number;
  /** The first transport error, to say why requests failed. */
  readonly firstError?: string;
}

function numberField(metadata: Readonly<Record<string, string>>, field: string, fallback: number): number {
  const text = metadata[field];
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value))
    throw new InvalidTaskError(`metadata.${field} must be a number, got "${text}"`);
  return value;
}

function parseHeaders(text: string | undefined): Record<string, string> {
  if (text === undefined || text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidTaskError('metadata.headers must be a JSON object of strings, such as {"x-canary":"1"}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidTaskError('metadata.headers must be a JSON object of strings, such as {"x-canary":"1"}');
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (!HEADER_NAME.test(name))
      throw new InvalidTaskError(`metadata.headers: "${name}" is not a header name`);
    if (MANAGED_HEADERS.has(name.toLowerCase())) {
      throw new InvalidTaskError(`metadata.headers: ${name} is set by the load generator`);
    }
    if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
      throw new InvalidTaskError(`metadata.headers.${name} must be a one-line string`);
    }
    headers[name] = value;
  }
  return headers;
}

/** Reads a `type: load` task's metadata; throws InvalidTaskError naming the field. */
export function parseLoadSpec(metadata: Readonly<Record<string, string>>): LoadSpec {
  const urlText = metadata['url'];
  if (urlText === undefined || urlText.trim() === '') {
    throw new InvalidTaskError('metadata.url is required for type load');
  }
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw new InvalidTaskError(`metadata.url "${urlText}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidTaskError(`metadata.url must be http or https, got ${url.protocol.replace(':', '')}`);
  }
  const method = (metadata['method'] ?? 'GET').toUpperCase();
  if (!(LOAD_METHODS as readonly string[]).includes(method)) {
    throw new InvalidTaskError(`metadata.method must be one of ${LOAD_METHODS.join(', ')}, got "${method}"`);
  }
  const durationText = metadata['duration'];
  const durationMs =
    durationText === undefined || durationText === ''
      ? DEFAULT_LOAD_DURATION_MS
      : parseGoDuration(durationText);
  if (durationMs === undefined || durationMs <= 0 || durationMs > MAX_LOAD_DURATION_MS) {
    throw new InvalidTaskError(
      `metadata.duration must be a Go duration above 0 and at most ${formatDuration(MAX_LOAD_DURATION_MS)}, got "${durationText}"`,
    );
  }
  const qps = numberField(metadata, 'qps', DEFAULT_QPS);
  if (qps < 0 || qps > MAX_QPS) throw new InvalidTaskError(`metadata.qps must be between 0 and ${MAX_QPS}`);
  const concurrency = numberField(metadata, 'concurrency', DEFAULT_CONCURRENCY);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
    throw new InvalidTaskError(`metadata.concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}`);
  }
  const headers = parseHeaders(metadata['headers']);
  if (url.username !== '' && !Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers['authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
  }
  const body = metadata['body'];
  if (body !== undefined && body !== '' && (method === 'GET' || method === 'HEAD')) {
    throw new InvalidTaskError(`metadata.body cannot be sent with ${method}; set metadata.method`);
  }
  return {
    url,
    method: method as LoadSpec['method'],
    durationMs,
    qps,
    concurrency,
    headers,
    ...(body === undefined || body === '' ? {} : { body }),
  };
}

/** Keeps a uniform sample of latencies, and the exact maximum. */
class LatencySample {
  private readonly values: number[] = [];
  private seen = 0;
  max = 0;

  constructor(private readonly random: () => number) {}

  add(value: number): void {
    this.seen += 1;
    this.max = Math.max(this.max, value);
    if (this.values.length < LATENCY_SAMPLES) this.values.push(value);
    else {
      const slot = Math.floor(this.random() * this.seen);
      if (slot < LATENCY_SAMPLES) this.values[slot] = value;
    }
  }

  percentiles(): LoadReport['latencyMs'] {
    const sorted = [...this.values].sort((a, b) => a - b);
    const at = (p: number): number =>
      sorted.length === 0 ? 0 : round(sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!);
    return { p50: at(50), p90: at(90), p99: at(99), max: round(this.max) };
  }
}

function round(value: number, digits = 3): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export interface RunLoadOptions {
  readonly clock: Clock;
  /** Aborting stops the run at once (shutdown); the report covers what was done. */
  readonly signal?: AbortSignal;
  /** Per-request limit for the answer's headers and body. */
  readonly requestTimeoutMs?: number;
  /** How long requests still in flight at the end of the duration may finish before being cut. */
  readonly drainMs?: number;
  readonly random?: () => number;
  /** When given, every connection's resolved address is checked against it (docs/loadtester.md). */
  readonly targets?: TargetPolicy;
}

/** Sends the load and reports; never throws for request failures (they are counted). */
export async function runLoad(spec: LoadSpec, options: RunLoadOptions): Promise<LoadReport> {
  const { clock } = options;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const drainMs = options.drainMs ?? 5_000;
  const stop = new AbortController();
  const stopNow = (): void => stop.abort();
  options.signal?.addEventListener('abort', stopNow, { once: true });
  if (options.signal?.aborted === true) stop.abort();

  const port = spec.url.port !== '' ? Number(spec.url.port) : spec.url.protocol === 'https:' ? 443 : 80;
  const pool = new Pool(spec.url.origin, {
    connections: spec.concurrency,
    pipelining: 1,
    ...(options.targets === undefined ? {} : { connect: { lookup: guardedLookup(options.targets, port) } }),
  });
  const path = `${spec.url.pathname}${spec.url.search}`;
  const latencies = new LatencySample(options.random ?? Math.random);
  const statusCodes: Record<string, number> = {};
  let requests = 0;
  let errors = 0;
  let firstError: string | undefined;

  const started = clock.monotonic();
  const deadline = started + spec.durationMs;
  const interval = spec.qps > 0 ? 1000 / spec.qps : 0;
  let nextSlot = started;
  // Cut whatever is still in flight a little after the duration, so a hung target cannot hold the run.
  const cutOff = clock.sleep(spec.durationMs + drainMs, stop.signal).then(stopNow);

  const sendOne = async (): Promise<void> => {
    const sentAt = clock.monotonic();
    try {
      const response = await pool.request({
        path,
        method: spec.method,
        headers: spec.headers,
        ...(spec.body === undefined ? {} : { body: spec.body }),
        signal: stop.signal,
        headersTimeout: requestTimeoutMs,
        bodyTimeout: requestTimeoutMs,
      });
      for await (const chunk of response.body) void chunk;
      const key = String(response.statusCode);
      statusCodes[key] = (statusCodes[key] ?? 0) + 1;
      if (response.statusCode >= 500) errors += 1;
      latencies.add(clock.monotonic() - sentAt);
    } catch (cause) {
      errors += 1;
      firstError ??= cause instanceof Error ? cause.message : String(cause);
    }
    requests += 1;
  };

  const worker = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      const now = clock.monotonic();
      // Slots are at least 1/qps apart over all workers; a worker that fell behind does not burst
      // to catch up, as a person reading "qps" would expect.
      const at = interval > 0 ? Math.max(nextSlot, now) : now;
      if (at >= deadline) return;
      if (interval > 0) nextSlot = at + interval;
      await clock.sleep(at - now, stop.signal);
      if (stop.signal.aborted) return;
      await sendOne();
    }
  };

  try {
    await Promise.all(Array.from({ length: spec.concurrency }, worker));
  } finally {
    options.signal?.removeEventListener('abort', stopNow);
    stop.abort();
    await cutOff;
    await pool.destroy().catch(() => undefined);
  }
  const durationMs = clock.monotonic() - started;
  const answeredBelow500 = requests - errors;
  return {
    requests,
    errors,
    successRate: requests === 0 ? 0 : round((answeredBelow500 / requests) * 100, 2),
    rps: durationMs <= 0 ? 0 : round(requests / (durationMs / 1000), 2),
    latencyMs: latencies.percentiles(),
    statusCodes,
    durationMs: Math.round(durationMs),
    ...(firstError === undefined ? {} : { firstError }),
  };
}
