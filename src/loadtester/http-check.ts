/**
 * Acceptance tests as data (docs/loadtester.md, "Acceptance tests"): one HTTP request sent by the
 * loadtester's own client, its answer compared with what the task expects. Only http and https,
 * never a redirect followed, every connection's resolved address checked against the targets:
 * nothing here can read a file or reach a server the target policy does not allow.
 */
import { Agent, request } from 'undici';
import { readCappedBody } from '../shared/body.js';
import { InvalidTaskError } from './errors.js';
import { redactText } from './redact.js';
import { checkTarget, guardedLookup, type TargetPolicy } from './targets.js';

export const HTTP_CHECK_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const MAX_BODY_BYTES = 1024 * 1024;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// undici sets these itself; a caller's value would contradict the body it sends.
const MANAGED_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'upgrade', 'host']);

export interface HttpCheckSpec {
  readonly url: URL;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The Host header to send instead of the URL's (hey -host, curl -H "Host: …"). */
  readonly hostHeader?: string;
  readonly body?: string;
  /** Skip TLS certificate verification (curl -k). */
  readonly insecure: boolean;
  /** Statuses that pass; undefined = any answer passes (curl without -f). */
  readonly expectStatus?: (status: number) => boolean;
  /** Words describing expectStatus, for the failure reason ("200 or 201", "below 400"). */
  readonly expectStatusText?: string;
  /** A text the answer's body must contain. */
  readonly expectBody?: string;
  readonly timeoutMs: number;
}

export interface HttpCheckResult {
  readonly passed: boolean;
  readonly status?: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
  /** Why it did not pass (transport error, status, body), in one line. */
  readonly reason?: string;
  readonly aborted: boolean;
  readonly timedOut: boolean;
}

/** Checks a URL's scheme and target; the loadtester's client never reaches anything else. */
export function checkHttpUrl(url: URL, targets: TargetPolicy, field: string): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidTaskError(`${field} must be http or https, got ${url.protocol.replace(/:$/, '')}`);
  }
  checkTarget(targets, url.hostname, portOf(url), 'the URL');
}

export function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** Reads a JSON object of one-line strings (metadata.headers); throws naming the field. */
export function parseHeaderObject(text: string | undefined, field: string): Record<string, string> {
  if (text === undefined || text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidTaskError(`${field} must be a JSON object of strings, such as {"x-canary":"1"}`);
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    checkHeader(name, value, field);
    headers[name] = value as string;
  }
  return headers;
}

export function checkHeader(name: string, value: unknown, field: string): void {
  if (!HEADER_NAME.test(name)) throw new InvalidTaskError(`${field}: "${name}" is not a header name`);
  if (MANAGED_HEADERS.has(name.toLowerCase())) {
    throw new InvalidTaskError(`${field}: ${name} is set by the loadtester`);
  }
  if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
    throw new InvalidTaskError(`${field}.${name} must be a one-line string`);
  }
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}

export interface RunHttpCheckOptions {
  readonly targets: TargetPolicy;
  readonly signal?: AbortSignal;
}

/** Sends the request once; never throws for network failures (they are a failed check). */
export async function runHttpCheck(
  spec: HttpCheckSpec,
  options: RunHttpCheckOptions,
): Promise<HttpCheckResult> {
  const port = portOf(spec.url);
  const agent = new Agent({
    connect: {
      lookup: guardedLookup(options.targets, port),
      rejectUnauthorized: !spec.insecure,
    },
  });
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), spec.timeoutMs);
  const signals = [timeout.signal, ...(options.signal === undefined ? [] : [options.signal])];
  const signal = AbortSignal.any(signals);
  const failed = (reason: string): HttpCheckResult => ({
    passed: false,
    headers: {},
    body: '',
    reason,
    aborted: options.signal?.aborted === true,
    timedOut: timeout.signal.aborted,
  });
  try {
    const response = await request(spec.url, {
      method: spec.method,
      headers: { ...spec.headers, ...(spec.hostHeader === undefined ? {} : { host: spec.hostHeader }) },
      ...(spec.body === undefined ? {} : { body: spec.body }),
      dispatcher: agent,
      signal,
      headersTimeout: spec.timeoutMs,
      bodyTimeout: spec.timeoutMs,
    });
    // Only the first MiB is compared; past it reading stops and that connection closes.
    const read = await readCappedBody(response.body, MAX_BODY_BYTES);
    if (read.error !== undefined) throw read.error;
    const body = read.bytes.toString('utf8');
    const status = response.statusCode;
    let reason: string | undefined;
    if (spec.expectStatus !== undefined && !spec.expectStatus(status)) {
      reason = `expected status ${spec.expectStatusText ?? 'to pass'}, got ${status}`;
    } else if (spec.expectBody !== undefined && !body.includes(spec.expectBody)) {
      reason = `the answer (status ${status}) does not contain "${spec.expectBody}"`;
    }
    return {
      passed: reason === undefined,
      status,
      headers: response.headers,
      body,
      ...(reason === undefined ? {} : { reason }),
      aborted: false,
      timedOut: false,
    };
  } catch (cause) {
    if (options.signal?.aborted === true) return failed('stopped: the loadtester is shutting down');
    if (timeout.signal.aborted) return failed(`no answer within the ${spec.timeoutMs} ms timeout`);
    const error = cause as NodeJS.ErrnoException & { cause?: Error };
    const message = error.cause?.message ?? error.message;
    return failed(`request to ${spec.url.host} failed: ${redactText(firstLine(message))}`);
  } finally {
    clearTimeout(timer);
    await agent.close().catch(() => undefined);
  }
}
