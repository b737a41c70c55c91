/**
 * The HTTP call shared by the providers that speak plain HTTP APIs: one request with a timeout,
 * every failure turned into a MetricQueryError that names the provider and the endpoint (origin
 * and path only: query strings and headers can carry API keys), with a short excerpt of what the
 * backend answered.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { readCappedBody, type BodyStream } from '../shared/body.js';
import { MetricQueryError } from './errors.js';
import type { ProviderDeps, ProviderSettings } from './provider.js';

/** Backends answer errors with a line or two; more is a proxy's HTML page. */
const EXCERPT_CHARACTERS = 300;
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface HttpCall {
  /** Provider name for messages ("prometheus"). */
  readonly provider: string;
  readonly url: URL;
  readonly method?: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string;
  readonly timeoutMs: number;
  readonly dispatcher?: Dispatcher | undefined;
  /** Pulls the backend's own error text out of an error body (Prometheus' `error` field). */
  readonly errorText?: (body: string) => string | undefined;
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
}

/** Where a call went, safe to print: no credentials, no query string. */
export function endpointOf(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

export function excerpt(body: string | undefined): string {
  const flat = (body ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT_CHARACTERS ? `${flat.slice(0, EXCERPT_CHARACTERS)}…` : flat;
}

/** Sends the call; a status of 400 or more is an error carrying the body's excerpt. */
export async function httpCall(call: HttpCall): Promise<HttpAnswer> {
  const endpoint = endpointOf(call.url);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(call.headers ?? {})) {
    headers[name] = typeof value === 'string' ? value : [...value];
  }
  let response: Dispatcher.ResponseData;
  try {
    response = await request(call.url, {
      method: call.method ?? 'GET',
      headers,
      ...(call.body === undefined ? {} : { body: call.body }),
      signal: AbortSignal.timeout(call.timeoutMs),
      ...(call.dispatcher === undefined ? {} : { dispatcher: call.dispatcher }),
    });
  } catch (cause) {
    throw new MetricQueryError(
      `${call.provider}: cannot reach ${endpoint}: ${failureReason(cause, call.timeoutMs)}`,
      {
        cause,
      },
    );
  }
  let body: string;
  try {
    body = await readCapped(response.body);
  } catch (cause) {
    throw new MetricQueryError(
      `${call.provider}: reading the answer of ${endpoint} failed: ${failureReason(cause, call.timeoutMs)}`,
      { cause, status: response.statusCode },
    );
  }
  if (response.statusCode >= 400) {
    const detail = call.errorText?.(body) ?? excerpt(body);
    throw new MetricQueryError(
      `${call.provider}: ${endpoint} answered HTTP ${response.statusCode}${detail === '' ? '' : `: ${detail}`}`,
      { status: response.statusCode },
    );
  }
  const contentType = response.headers['content-type'];
  return {
    status: response.statusCode,
    body,
    contentType: (Array.isArray(contentType) ? contentType[0] : contentType) ?? '',
  };
}

/** Every metrics API answers a few levels deep; far deeper is not an answer, and would exhaust the stack. */
export const MAX_JSON_DEPTH = 64;

/**
 * `httpCall`, then the body as JSON: an object or a list, at most MAX_JSON_DEPTH levels deep.
 * Anything else (not JSON, `null`, a bare number or string, nesting deep enough to overflow the
 * stack of whatever reads it next) is an error saying what came instead.
 */
export async function httpJson(call: HttpCall): Promise<unknown> {
  const answer = await httpCall(call);
  const unexpected = (what: string): MetricQueryError =>
    new MetricQueryError(
      `${call.provider}: ${endpointOf(call.url)} answered HTTP ${answer.status} with ${what} (${answer.contentType || 'no content type'}): ${excerpt(answer.body)}`,
      { status: answer.status },
    );
  if (jsonDepth(answer.body) > MAX_JSON_DEPTH) {
    throw unexpected(`JSON nested more than ${MAX_JSON_DEPTH} levels deep, which is not a metrics answer`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body) as unknown;
  } catch {
    throw unexpected('something that is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw unexpected(`JSON ${parsed === null ? 'null' : typeof parsed} instead of an object`);
  }
  return parsed;
}

/** The deepest nesting of brackets and braces outside strings, without parsing. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === 0x5c)
        index += 1; // a backslash escapes the next character
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x5b || char === 0x7b) deepest = Math.max(deepest, (depth += 1));
    else if (char === 0x5d || char === 0x7d) depth -= 1;
  }
  return deepest;
}

/** The whole body as text, refusing answers over 16 MiB (a misdirected query can return a lot). */
export async function readCapped(body: BodyStream): Promise<string> {
  const read = await readCappedBody(body, MAX_RESPONSE_BYTES);
  if (read.error !== undefined) throw read.error;
  if (read.truncated) throw new Error(`the answer is larger than ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB`);
  return read.bytes.toString('utf8');
}

/** Why a request got no answer, in words (timeout, connection refused…), without the URL. */
export function failureReason(cause: unknown, timeoutMs: number): string {
  const error = cause as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const code = error.code ?? error.cause?.code;
  const message = error.message ?? String(cause);
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}

/**
 * The dispatcher for a provider's calls: the injected one, or an agent that skips certificate
 * checks when the template asks for it (self-signed in-cluster endpoints).
 */
export function dispatcherFor(settings: ProviderSettings, deps: ProviderDeps): Dispatcher | undefined {
  if (deps.dispatcher !== undefined) return deps.dispatcher;
  if (settings.insecureSkipVerify === true) return new Agent({ connect: { rejectUnauthorized: false } });
  return undefined;
}

/** Whether `text` is an absolute http:// or https:// URL (what every HTTP provider's address must be). */
export function isHttpUrl(text: string): boolean {
  try {
    const { protocol } = new URL(text);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

/** Joins a base address and an API path, keeping any path prefix of the address (a proxy's /prometheus). */
export function apiUrl(provider: string, address: string, path: string): URL {
  let base: URL;
  try {
    base = new URL(address);
  } catch {
    throw new MetricQueryError(
      `${provider}: address ${JSON.stringify(address)} is not a URL: set spec.provider.address to http(s)://host:port`,
    );
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new MetricQueryError(`${provider}: address must be http:// or https://, not ${base.protocol}`);
  }
  const prefix = base.pathname.replace(/\/+$/, '');
  return new URL(`${prefix}${path}`, base);
}
