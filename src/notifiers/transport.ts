/**
 * The one HTTP POST every notifier uses (docs/flagger-compatibility.md#7-alerts "Transport"): JSON, a 5 s timeout per
 * attempt, an optional proxy. Flagger tries once; Vireo retries network errors, 429 and 5xx twice
 * with exponential backoff, because chat services shed load with exactly those answers and a lost
 * rollback alert is worse than a late one.
 *
 * `postJson` never throws: every failure is a result, so a chat outage can never fail a canary.
 * Error texts never carry the URL: a chat webhook URL is itself the credential.
 */
import { ProxyAgent, request, type Dispatcher } from 'undici';
import { backoffDelayMs } from '../shared/backoff.js';
import { readCappedBody, type BodyStream } from '../shared/body.js';

export const DEFAULT_TIMEOUT_MS = 5_000;
export const DEFAULT_ATTEMPTS = 3;
export const DEFAULT_BACKOFF_MS = 1_000;
/** Chat services answer with a few bytes; more is a misconfigured URL serving a web page. */
export const MAX_RESPONSE_BODY_BYTES = 64 * 1024;

export interface TransportOptions {
  /** Per attempt, from sending the request to reading the whole response. */
  readonly timeoutMs?: number;
  /** Requests at most, the first one included. */
  readonly attempts?: number;
  /** Wait before the second attempt; doubled before each further one. */
  readonly backoffMs?: number;
  /** Waits between attempts; tests pass one that records and returns at once. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface JsonPost {
  readonly url: string;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** http(s) proxy URL; the request is tunnelled through it with CONNECT. */
  readonly proxy?: string | undefined;
}

export interface PostResult {
  /** A 2xx answer arrived. */
  readonly ok: boolean;
  /** HTTP status of the last attempt; 0 when no response arrived. */
  readonly status: number;
  /** Response body of the last attempt (first 64 KiB), or '' when none arrived. */
  readonly body: string;
  /** Requests sent; 0 when the request could not be built (bad URL, bad proxy). */
  readonly attempts: number;
  /** Why no response arrived (network error, timeout), without the URL. */
  readonly error?: string;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Statuses worth asking again: rate limiting and server trouble. Other 4xx will not change. */
export function isRetriableStatus(status: number): boolean {
  return status === 0 || status === 429 || status >= 500;
}

export async function postJson(post: JsonPost, options: TransportOptions = {}): Promise<PostResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxAttempts = Math.max(1, options.attempts ?? DEFAULT_ATTEMPTS);
  const backoffMs = options.backoffMs ?? DEFAULT_BACKOFF_MS;
  const sleep = options.sleep ?? defaultSleep;

  const url = parseHttpUrl(post.url);
  if (url === undefined) return notSent('the address is not an http(s) URL');
  let proxy: ProxyAgent | undefined;
  if (post.proxy !== undefined && post.proxy !== '') {
    if (parseHttpUrl(post.proxy) === undefined) return notSent('the proxy is not an http(s) URL');
    proxy = new ProxyAgent({ uri: post.proxy });
  }
  const body = JSON.stringify(post.body);
  const headers = { ...post.headers, 'content-type': 'application/json' };
  const hide = (text: string): string => redact(text, [post.url, url.href, post.proxy]);

  try {
    let last: PostResult = notSent('no attempt made');
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      if (attempt > 1) await sleep(backoffDelayMs({ initialMs: backoffMs }, attempt - 2));
      last = { ...(await attemptOnce(url, body, headers, timeoutMs, proxy, hide)), attempts: attempt };
      if (!isRetriableStatus(last.status)) break;
    }
    return last;
  } finally {
    // One agent per post: alerts are rare, and a pooled proxy connection would keep a CLI alive.
    await proxy?.close().catch(() => undefined);
  }
}

async function attemptOnce(
  url: URL,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  proxy: Dispatcher | undefined,
  hide: (text: string) => string,
): Promise<Omit<PostResult, 'attempts'>> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await request(url, {
      method: 'POST',
      headers,
      body,
      signal,
      ...(proxy === undefined ? {} : { dispatcher: proxy }),
    });
    const text = await readLimited(response.body);
    const ok = response.statusCode >= 200 && response.statusCode <= 299;
    return { ok, status: response.statusCode, body: text };
  } catch (cause) {
    const reason = signal.aborted ? `timeout: no response within ${timeoutMs} ms` : describe(cause);
    return { ok: false, status: 0, body: '', error: hide(reason) };
  }
}

async function readLimited(body: BodyStream): Promise<string> {
  const read = await readCappedBody(body, MAX_RESPONSE_BODY_BYTES);
  if (read.error !== undefined) throw read.error;
  return read.bytes.toString('utf8');
}

function parseHttpUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

const notSent = (error: string): PostResult => ({ ok: false, status: 0, body: '', attempts: 0, error });

function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  // undici puts the useful part (ECONNREFUSED, "other side closed") in the cause.
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : '';
  return `${cause.message}${inner}`;
}

function redact(text: string, secrets: readonly (string | undefined)[]): string {
  return secrets
    .filter((value): value is string => value !== undefined && value.length > 0)
    .sort((a, b) => b.length - a.length)
    .reduce((hidden, value) => hidden.split(value).join('[redacted]'), text);
}
