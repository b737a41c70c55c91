/**
 * Calls webhooks the way Flagger does (docs/flagger-compatibility.md#5-webhooks): a JSON POST through go-retryablehttp with
 * `RetryMax = retries`, a per-attempt timeout, and success meaning status ≤ 202. Hooks written for
 * Flagger (the loadtester, gates, custom checks) see the same requests and get the same verdicts.
 */
import { STATUS_CODES } from 'node:http';
import { Agent, request, type Dispatcher } from 'undici';
import { formatDuration, parseGoDuration } from '../api/duration.js';
import type { CanaryWebhook } from '../api/schema/canary.js';
import type { WebhookClient, WebhookPayload, WebhookResult } from '../engine/ports.js';
import { backoffDelayMs } from '../shared/backoff.js';
import { bodyText, readCappedBody, type BodyStream } from '../shared/body.js';
import { VireoError } from '../shared/errors.js';
import { VERSION } from '../shared/version.js';
import { encodeWebhookPayload, headersFromSecret } from './payload.js';

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
export const MAX_RESPONSE_BODY_BYTES = 64 * 1024;
// go-retryablehttp's defaults (RetryWaitMin, RetryWaitMax), which Flagger keeps.
export const RETRY_WAIT_MIN_MS = 1_000;
export const RETRY_WAIT_MAX_MS = 30_000;
// Go's http.Client follows up to 10 redirects, turning a POST into a GET on 301, 302 and 303.
const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Statuses that make Go repeat the POST with its body; the others continue as a GET without one. */
const BODY_KEEPING_REDIRECTS = new Set([307, 308]);
// setTimeout fires at once for larger delays, which would make a huge timeout no timeout at all.
const MAX_TIMER_MS = 2 ** 31 - 1;
// Credentials shorter than this are left in error texts: redacting "1" or "abc" everywhere would
// garble the message without protecting anything worth protecting.
const MIN_REDACTED_LENGTH = 4;
const MIN_REDACTED_PART_LENGTH = 8;
const REDACTED = '[redacted]';

/** An attempt that ran out of time; used as the abort reason, never thrown to callers. */
export class WebhookTimeoutError extends VireoError {
  constructor(timeoutMs: number) {
    super('E_WEBHOOK_TIMEOUT', `timeout: no response within ${formatDuration(timeoutMs)}`);
  }
}

export interface HttpWebhookClientOptions {
  /**
   * Dispatcher for hooks that verify TLS (keep-alive connections are pooled there). Owned by the
   * caller: `close()` leaves it open. Default: an Agent created on first use and closed by `close()`.
   */
  readonly agent?: Dispatcher;
  /** Waits between attempts; tests pass one that returns at once. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Milliseconds since the epoch, to read a `Retry-After` date. */
  readonly now?: () => number;
}

type AttemptOutcome =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly body: string;
      /** Reading the body failed after the status arrived. */
      readonly bodyError?: string;
      readonly retryAfter?: string;
    }
  | { readonly kind: 'transport-error'; readonly message: string; readonly retriable: boolean };

interface PreparedRequest {
  readonly url: URL;
  /** The URL as error texts show it, with any password masked like go-retryablehttp does. */
  readonly shownUrl: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly disableTLS: boolean;
  readonly timeoutMs: number;
  readonly retryMax: number;
}

/** Credentials to keep out of every text the client returns. */
type Secrets = readonly string[];

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The hook's per-attempt timeout: Flagger's default when unset, invalid, zero or negative. */
export function attemptTimeoutMs(timeout: string | undefined): number {
  const parsed = timeout === undefined ? undefined : parseGoDuration(timeout);
  // Go would read "0s" as "no timeout"; a hook that never answers would then stall its canary.
  if (parsed === undefined || parsed <= 0) return DEFAULT_WEBHOOK_TIMEOUT_MS;
  return Math.min(parsed, MAX_TIMER_MS);
}

/** go-retryablehttp's retry policy for a response status: 429, and 5xx but 501. */
export function isRetriableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501);
}

/** A `Retry-After` value in milliseconds (seconds or an HTTP date), or undefined when unusable. */
export function parseRetryAfterMs(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\+?\d+$/.test(text)) return Number(text) * 1000;
  if (/^-\d+$/.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/**
 * The wait before retry number `retryIndex + 1`: 1 s doubling to 30 s, or the server's
 * `Retry-After` on 429 and 503 (capped at 30 s too, so one answer cannot park a canary).
 */
export function retryDelayMs(retryIndex: number, retryAfterMs: number | undefined): number {
  const exponential = backoffDelayMs({ initialMs: RETRY_WAIT_MIN_MS, maxMs: RETRY_WAIT_MAX_MS }, retryIndex);
  return Math.min(retryAfterMs ?? exponential, RETRY_WAIT_MAX_MS);
}

function hasHeader(headers: Readonly<Record<string, string>>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

/** Go's http.Client sends URL user info as Basic auth unless an Authorization header is set. */
function basicAuthFromUrl(url: URL): string | undefined {
  if (url.username === '' && url.password === '') return undefined;
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
}

function withoutUserInfo(url: URL): URL {
  const bare = new URL(url.href);
  bare.username = '';
  bare.password = '';
  return bare;
}

function shownUrlOf(url: URL): string {
  if (url.password === '') return url.href;
  const masked = new URL(url.href);
  masked.password = 'xxxxx';
  return masked.href;
}

/** Every credential the request carries, longest first: header values and URL user info. */
function secretsFor(headers: Readonly<Record<string, string>>, rawUrl: string): Secrets {
  const values = Object.values(headers);
  if (URL.canParse(rawUrl)) {
    const url = new URL(rawUrl);
    values.push(url.password, decodeURIComponent(url.password), basicAuthFromUrl(url) ?? '');
  }
  const candidates: string[] = [];
  for (const value of values) {
    if (value.length >= MIN_REDACTED_LENGTH) candidates.push(value);
    // "Bearer <token>": the token alone may be echoed back too.
    candidates.push(...value.split(/\s+/).filter((part) => part.length >= MIN_REDACTED_PART_LENGTH));
  }
  return [...new Set(candidates)].sort((left, right) => right.length - left.length);
}

function redact(text: string, secrets: Secrets): string {
  return secrets.reduce((redacted, secret) => redacted.split(secret).join(REDACTED), text);
}

function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(describeError).join('; ');
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (error.message !== '') return error.message;
    return typeof code === 'string' ? code : error.name;
  }
  return String(error);
}

/** Error codes of an error and its causes (bounded: a cause chain may loop). */
function errorCodes(error: unknown, depth = 0): string[] {
  if (!(error instanceof Error) || depth > 8) return [];
  const own = (error as { code?: unknown }).code;
  const inner: unknown[] =
    error instanceof AggregateError ? [error.cause, ...(error.errors as unknown[])] : [error.cause];
  return [
    ...(typeof own === 'string' ? [own] : []),
    ...inner.flatMap((cause) => errorCodes(cause, depth + 1)),
  ];
}

// go-retryablehttp does not retry a certificate from an unknown authority: the next attempt
// would meet the same certificate.
const UNTRUSTED_CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_UNTRUSTED',
]);

function isRetriableTransportError(error: unknown): boolean {
  return !errorCodes(error).some((code) => UNTRUSTED_CERTIFICATE_CODES.has(code));
}

/** Go's url.Error format: `Post "<url>": <cause>`. */
function transportErrorText(prepared: PreparedRequest, cause: string): string {
  return `Post "${prepared.shownUrl}": ${cause}`;
}

/** The answer's first 64 KiB as text; past that the rest is not worth the wait (see shared/body.ts). */
async function readLimitedBody(body: BodyStream): Promise<{ text: string; error?: unknown }> {
  const read = await readCappedBody(body, MAX_RESPONSE_BODY_BYTES);
  return { text: bodyText(read), ...(read.error === undefined ? {} : { error: read.error }) };
}

/**
 * Whether a redirect stays with the hook's own origin. An upgrade from http to https on the same
 * host and default ports counts as the same origin: it is the usual redirect in front of a hook,
 * and it only makes the connection safer.
 */
function isSameOrigin(from: URL, to: URL): boolean {
  if (from.origin === to.origin) return true;
  return (
    from.protocol === 'http:' &&
    to.protocol === 'https:' &&
    from.hostname === to.hostname &&
    from.port === '' &&
    to.port === ''
  );
}

/** Headers that carry no credential; only these go to another origin. */
const SAFE_HEADERS = new Set(['content-type', 'accept', 'user-agent']);

function safeHeaders(
  headers: Readonly<Record<string, string>>,
  method: 'POST' | 'GET',
): Record<string, string> {
  const kept = method === 'GET' ? withoutContentHeaders(headers) : headers;
  return Object.fromEntries(Object.entries(kept).filter(([name]) => SAFE_HEADERS.has(name.toLowerCase())));
}

/** A GET carries no body, so no Content-Type either. */
function withoutContentHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !/^content-/i.test(name)));
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function statusLine(status: number): string {
  const reason = STATUS_CODES[status];
  return reason === undefined ? String(status) : `${status} ${reason}`;
}

function failure(body: string, attempts: number, status = 0): WebhookResult {
  return { ok: false, status, body, attempts };
}

export class HttpWebhookClient implements WebhookClient {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly injectedAgent: Dispatcher | undefined;
  private readonly ownedAgents: Agent[] = [];
  private verifying: Dispatcher | undefined;
  private insecure: Dispatcher | undefined;

  constructor(options: HttpWebhookClientOptions = {}) {
    this.sleep = options.sleep ?? defaultSleep;
    this.now = options.now ?? Date.now;
    this.injectedAgent = options.agent;
  }

  async call(
    hook: CanaryWebhook,
    payload: WebhookPayload,
    headers: Readonly<Record<string, string>>,
  ): Promise<WebhookResult> {
    const progress = { attempts: 0 };
    let secrets: Secrets = [];
    try {
      secrets = secretsFor(headers, hook.url);
      const prepared = this.prepare(hook, payload, headers);
      if (typeof prepared === 'string') return failure(redact(prepared, secrets), 0);
      const result = await this.deliver(prepared, progress);
      // Bodies end up in events and alerts; a hook that echoes its request must not leak a token.
      return { ...result, body: redact(result.body, secrets) };
    } catch (error) {
      // Only a bug or a failing sleep gets here; the contract says failures are results.
      return failure(redact(`webhook ${hook.name}: ${describeError(error)}`, secrets), progress.attempts);
    }
  }

  /** Releases pooled connections. The client creates new agents if it is called again. */
  async close(): Promise<void> {
    const agents = this.ownedAgents.splice(0);
    this.verifying = undefined;
    this.insecure = undefined;
    await Promise.all(agents.map((agent) => agent.close()));
  }

  /** The request to send, or the error text when there is nothing to send. */
  private prepare(
    hook: CanaryWebhook,
    payload: WebhookPayload,
    extraHeaders: Readonly<Record<string, string>>,
  ): PreparedRequest | string {
    let url: URL;
    try {
      url = new URL(hook.url);
    } catch {
      return `parse "${hook.url}": invalid URL`;
    }
    const shownUrl = shownUrlOf(url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return `Post "${shownUrl}": unsupported protocol scheme "${url.protocol.slice(0, -1)}"`;
    }
    let headers: Record<string, string>;
    try {
      headers = headersFromSecret(extraHeaders);
    } catch (error) {
      return describeError(error);
    }
    const basicAuth = basicAuthFromUrl(url);
    if (basicAuth !== undefined && !hasHeader(headers, 'authorization')) headers.Authorization = basicAuth;
    headers['Content-Type'] = 'application/json';
    // Receivers see who calls them (Flagger's requests carried none; ours say so).
    if (!hasHeader(headers, 'user-agent')) headers['User-Agent'] = `Vireo/${VERSION}`;
    return {
      url: withoutUserInfo(url),
      shownUrl,
      headers,
      body: encodeWebhookPayload(payload),
      disableTLS: hook.disableTLS === true,
      timeoutMs: attemptTimeoutMs(hook.timeout),
      retryMax: Math.max(0, Math.floor(hook.retries ?? 0)),
    };
  }

  /** go-retryablehttp's `Do` loop, with Flagger's verdict on the final response. */
  private async deliver(prepared: PreparedRequest, progress: { attempts: number }): Promise<WebhookResult> {
    for (;;) {
      const outcome = await this.attempt(prepared);
      progress.attempts += 1;
      if (!this.shouldRetry(outcome)) return this.verdict(outcome, progress.attempts);
      if (progress.attempts > prepared.retryMax) return this.givingUp(prepared, outcome, progress.attempts);
      await this.sleep(this.waitAfter(outcome, progress.attempts - 1));
    }
  }

  private shouldRetry(outcome: AttemptOutcome): boolean {
    return outcome.kind === 'transport-error' ? outcome.retriable : isRetriableStatus(outcome.status);
  }

  private waitAfter(outcome: AttemptOutcome, retryIndex: number): number {
    const honoursRetryAfter =
      outcome.kind === 'response' && (outcome.status === 429 || outcome.status === 503);
    const retryAfterMs = honoursRetryAfter ? parseRetryAfterMs(outcome.retryAfter, this.now()) : undefined;
    return retryDelayMs(retryIndex, retryAfterMs);
  }

  /** A final answer that was not retried: Flagger's status check, the body as the error text. */
  private verdict(outcome: AttemptOutcome, attempts: number): WebhookResult {
    if (outcome.kind === 'transport-error') return failure(outcome.message, attempts);
    if (outcome.bodyError !== undefined) {
      return failure(`error reading body: ${outcome.bodyError}`, attempts, outcome.status);
    }
    return { ok: outcome.status <= 202, status: outcome.status, body: outcome.body, attempts };
  }

  /** Retries ran out: go-retryablehttp's error, with what the last attempt got. */
  private givingUp(prepared: PreparedRequest, outcome: AttemptOutcome, attempts: number): WebhookResult {
    const prefix = `POST ${prepared.shownUrl} giving up after ${attempts} attempt(s)`;
    if (outcome.kind === 'transport-error') return failure(`${prefix}: ${outcome.message}`, attempts);
    const detail = outcome.body === '' ? '' : `: ${outcome.body}`;
    return failure(
      `${prefix}: unexpected HTTP status ${statusLine(outcome.status)}${detail}`,
      attempts,
      outcome.status,
    );
  }

  private async attempt(prepared: PreparedRequest): Promise<AttemptOutcome> {
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new WebhookTimeoutError(prepared.timeoutMs)),
      prepared.timeoutMs,
    );
    try {
      const response = await this.followRedirects(prepared, deadline.signal);
      if ('kind' in response) return response;
      const { text, error } = await readLimitedBody(response.body);
      return {
        kind: 'response',
        status: response.statusCode,
        body: text,
        ...(error === undefined ? {} : { bodyError: this.reasonOf(error, deadline.signal) }),
        ...this.retryAfterOf(response.headers),
      };
    } catch (error) {
      return {
        kind: 'transport-error',
        message: transportErrorText(prepared, this.reasonOf(error, deadline.signal)),
        retriable: isRetriableTransportError(error),
      };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends the request and follows redirects as Go's http.Client does (up to 10; 301, 302 and 303
   * continue as a GET without body; 307 and 308 repeat the POST), except across origins: there
   * the Secret's headers and URL credentials are dropped (Go drops only Authorization and Cookie,
   * but every header a webhook Secret adds is a credential), and a 307 or 308 is not followed at
   * all, so the payload is never re-POSTed to another origin. See docs/engine.md (Webhooks).
   */
  private async followRedirects(
    prepared: PreparedRequest,
    signal: AbortSignal,
  ): Promise<Dispatcher.ResponseData | AttemptOutcome> {
    let url = prepared.url;
    let method: 'POST' | 'GET' = 'POST';
    let headers: Record<string, string> = prepared.headers;
    for (let redirects = 0; ; redirects += 1) {
      const data = await request(url, {
        method,
        headers,
        ...(method === 'POST' ? { body: prepared.body } : {}),
        dispatcher: this.dispatcherFor(prepared.disableTLS),
        signal,
      });
      const location = headerValue(data.headers['location']);
      if (!REDIRECT_STATUSES.has(data.statusCode) || location === undefined) return data;
      const next = URL.canParse(location, url.href) ? new URL(location, url) : undefined;
      if (next === undefined || (next.protocol !== 'http:' && next.protocol !== 'https:')) return data;
      if (redirects >= MAX_REDIRECTS) {
        await data.body.dump();
        // go-retryablehttp does not retry this error: the next attempt would loop the same way.
        return {
          kind: 'transport-error',
          message: transportErrorText(prepared, `stopped after ${MAX_REDIRECTS} redirects`),
          retriable: false,
        };
      }
      const keepsBody = method === 'POST' && BODY_KEEPING_REDIRECTS.has(data.statusCode);
      const crossOrigin = !isSameOrigin(prepared.url, next);
      if (crossOrigin && keepsBody) {
        await data.body.dump();
        return {
          kind: 'response',
          status: data.statusCode,
          body: `redirect (HTTP ${data.statusCode}) to another origin ${next.origin} not followed: Vireo never re-sends a webhook's request to another origin; set the hook's url to the address that answers`,
        };
      }
      await data.body.dump();
      if (!keepsBody) method = 'GET';
      if (crossOrigin) headers = safeHeaders(headers, method);
      else if (method === 'GET') headers = withoutContentHeaders(headers);
      url = withoutUserInfo(next);
    }
  }

  private retryAfterOf(headers: Dispatcher.ResponseData['headers']): { retryAfter?: string } {
    const value = headerValue(headers['retry-after']);
    return value === undefined ? {} : { retryAfter: value };
  }

  /** Our own deadline reads as a timeout, whatever undici wrapped it in. */
  private reasonOf(error: unknown, signal: AbortSignal): string {
    const reason: unknown = signal.reason;
    if (signal.aborted && reason instanceof WebhookTimeoutError) return reason.message;
    return describeError(error);
  }

  private dispatcherFor(disableTLS: boolean): Dispatcher {
    if (disableTLS) {
      // Certificate checks are off for this hook only: a separate pool, so no other hook ever
      // reuses a connection that skipped verification.
      this.insecure ??= this.ownAgent(new Agent({ connect: { rejectUnauthorized: false } }));
      return this.insecure;
    }
    this.verifying ??= this.injectedAgent ?? this.ownAgent(new Agent());
    return this.verifying;
  }

  private ownAgent(agent: Agent): Agent {
    this.ownedAgents.push(agent);
    return agent;
  }
}
