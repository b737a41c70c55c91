/**
 * Splunk Observability Cloud (Flagger's `splunk` type, formerly SignalFx): the template's query
 * is a SignalFlow program, run once over the window now − 10×interval … now through the
 * SignalFlow WebSocket API (`{stream}/v2/signalflow/connect`): connect, send `{type:
 * "authenticate", token}` (the Secret's `sf_token_key`), then `{type: "execute", channel,
 * program, start, stop, immediate: true}`, and read the channel's messages until
 * END_OF_CHANNEL. 5 s timeout for the whole exchange; the socket is closed on every outcome.
 *
 * `spec.provider.address` is Flagger's documented `https://api.<realm>.signalfx.com` (the
 * stream endpoint `wss://stream.<realm>.signalfx.com` is derived from it) or the stream endpoint
 * itself. It is required: without a realm, a token of another realm only fails as "unauthorized".
 *
 * Answers: the data points of the published streams, null values left out. None means no data;
 * points of several time series mean the program published several (MultipleValuesError, as
 * Flagger); otherwise the newest point's value.
 *
 * Why not the `signalfx` npm client: it throws from inside its WebSocket message handler when
 * the server sends a message type it does not know (an uncaught TypeError that would stop the
 * whole controller), and it never reports authentication failures or a closed connection
 * (every such failure would look like a timeout). The wire format below is the one that client
 * and Splunk's "SignalFlow stream messages" reference describe.
 */
import { gunzipSync } from 'node:zlib';
import type { Dispatcher } from 'undici';
import WebSocket from 'ws';
import {
  metricIntervalMs,
  MetricProviderConfigError,
  MetricQueryError,
  MultipleValuesError,
  noValues,
  requiredSecretKey,
} from '../errors.js';
import { apiUrl, dispatcherFor, excerpt, httpCall } from '../http.js';
import type { MetricsBackend, ProviderDeps, ProviderSettings } from '../provider.js';

export const SPLUNK_TIMEOUT_MS = 5_000;
export const SPLUNK_TOKEN_KEY = 'sf_token_key';

/** Flagger's window: ten metric intervals back from now. */
const WINDOW_INTERVALS = 10;
const CONNECT_PATH = '/v2/signalflow/connect';
const VALIDATION_PATH = '/v2/metric';
/** Channel names are at most 16 bytes in binary message headers. */
const CHANNEL = 'vireo-0';

/** One data point of a data batch. */
export interface SignalFlowPoint {
  readonly tsId: string;
  readonly value: number | null;
  readonly timestampMs: number;
}

/** A decoded stream message: JSON messages as sent, data batches with their points. */
export type SignalFlowMessage =
  | { readonly type: 'data'; readonly channel: string; readonly points: readonly SignalFlowPoint[] }
  | ({ readonly type: string; readonly channel?: string } & Readonly<Record<string, unknown>>);

export class SplunkProvider implements MetricsBackend {
  readonly type = 'splunk';
  private readonly streamUrl: URL;
  private readonly apiAddress: string;
  private readonly token: string;
  private readonly windowMs: number;
  private readonly timeoutMs: number;
  private readonly insecureSkipVerify: boolean;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly now: () => Date;

  constructor(settings: ProviderSettings, deps: ProviderDeps = {}) {
    const endpoints = endpointsOf(settings);
    this.streamUrl = endpoints.stream;
    this.apiAddress = endpoints.api;
    this.token = requiredSecretKey('splunk', settings.secret, settings.secretName, SPLUNK_TOKEN_KEY);
    this.windowMs = WINDOW_INTERVALS * metricIntervalMs(`${settings.source}: splunk`, settings.interval);
    this.timeoutMs = deps.timeoutMs ?? SPLUNK_TIMEOUT_MS;
    this.insecureSkipVerify = settings.insecureSkipVerify === true;
    this.dispatcher = dispatcherFor(settings, deps);
    this.now = deps.now ?? (() => new Date());
  }

  async queryValue(program: string): Promise<number> {
    const stop = this.now().getTime();
    const start = stop - this.windowMs;
    const points = await runComputation({
      url: this.streamUrl,
      token: this.token,
      execute: { program, start, stop, immediate: true },
      timeoutMs: this.timeoutMs,
      insecureSkipVerify: this.insecureSkipVerify,
    });
    return valueOf(points, start, stop);
  }

  /** The cheapest authenticated call of the REST API, with the token in `X-SF-Token`. */
  async isOnline(): Promise<boolean> {
    const url = apiUrl(this.type, this.apiAddress, VALIDATION_PATH);
    url.searchParams.set('limit', '1');
    await httpCall({
      provider: this.type,
      url,
      headers: { 'x-sf-token': this.token, accept: 'application/json' },
      timeoutMs: this.timeoutMs,
      dispatcher: this.dispatcher,
    });
    return true;
  }
}

/**
 * The stream (WebSocket) and API (REST) endpoints of an address: `https://api.<realm>…` and
 * `wss://stream.<realm>…` name the same realm, so either one gives both.
 */
export function endpointsOf(settings: Pick<ProviderSettings, 'address' | 'source'>): {
  stream: URL;
  api: string;
} {
  const address = settings.address ?? '';
  if (address === '') {
    throw new MetricProviderConfigError(
      `${settings.source}: splunk needs spec.provider.address, the API of your realm, such as https://api.us1.signalfx.com`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(address);
  } catch {
    throw new MetricProviderConfigError(
      `${settings.source}: splunk address ${JSON.stringify(address)} is not a URL: use https://api.<realm>.signalfx.com`,
    );
  }
  const secure = parsed.protocol === 'https:' || parsed.protocol === 'wss:';
  if (!secure && parsed.protocol !== 'http:' && parsed.protocol !== 'ws:') {
    throw new MetricProviderConfigError(
      `${settings.source}: splunk address must be https://api.<realm>.signalfx.com or wss://stream.<realm>.signalfx.com, not ${parsed.protocol}`,
    );
  }
  const prefix = parsed.pathname.replace(/\/+$/, '');
  const stream = new URL(parsed.href);
  stream.protocol = secure ? 'wss:' : 'ws:';
  stream.hostname = parsed.hostname.replace(/^api\./, 'stream.');
  stream.pathname = `${prefix}${CONNECT_PATH}`;
  stream.search = '';
  const api = new URL(parsed.href);
  api.protocol = secure ? 'https:' : 'http:';
  api.hostname = parsed.hostname.replace(/^stream\./, 'api.');
  api.pathname = prefix === '' ? '/' : prefix;
  api.search = '';
  return { stream, api: api.href };
}

interface ExecuteRequest {
  readonly program: string;
  readonly start: number;
  readonly stop: number;
  readonly immediate: boolean;
}

interface Computation {
  readonly url: URL;
  readonly token: string;
  readonly execute: ExecuteRequest;
  readonly timeoutMs: number;
  readonly insecureSkipVerify: boolean;
}

/** Runs one bounded computation and collects its data points; always closes the socket. */
function runComputation(computation: Computation): Promise<SignalFlowPoint[]> {
  const endpoint = `${computation.url.protocol}//${computation.url.host}${computation.url.pathname}`;
  return new Promise((resolve, reject) => {
    const points: SignalFlowPoint[] = [];
    let executing = false;
    let settled = false;
    let socket: WebSocket;
    try {
      socket = new WebSocket(computation.url, {
        rejectUnauthorized: !computation.insecureSkipVerify,
        handshakeTimeout: computation.timeoutMs,
      });
    } catch (cause) {
      reject(
        new MetricQueryError(`splunk: cannot connect to ${endpoint}: ${describeError(cause)}`, { cause }),
      );
      return;
    }
    socket.binaryType = 'nodebuffer';

    const finish = (outcome: { points: SignalFlowPoint[] } | { error: MetricQueryError }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      close(socket, executing && 'error' in outcome);
      if ('error' in outcome) reject(outcome.error);
      else resolve(outcome.points);
    };
    const fail = (message: string, cause?: unknown): void =>
      finish({ error: new MetricQueryError(`splunk: ${message}`, cause === undefined ? {} : { cause }) });

    const timer = setTimeout(
      () =>
        fail(
          `no answer from ${endpoint} within ${computation.timeoutMs} ms (${executing ? 'the computation did not end' : 'not authenticated'})`,
        ),
      computation.timeoutMs,
    );

    socket.on('open', () => {
      socket.send(JSON.stringify({ type: 'authenticate', token: computation.token }));
    });
    socket.on('unexpected-response', (_request, response) => {
      response.resume();
      fail(`${endpoint} refused the WebSocket connection with HTTP ${response.statusCode ?? 0}`);
    });
    socket.on('error', (error) => fail(`cannot reach ${endpoint}: ${describeError(error)}`, error));
    socket.on('close', (code, reason) => {
      const text = reason.toString('utf8');
      fail(
        `${endpoint} closed the connection (${code}${text === '' ? '' : `: ${excerpt(text)}`}) before the computation ended: check ${SPLUNK_TOKEN_KEY} and that the address is your realm's`,
      );
    });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (settled) return;
      let message: SignalFlowMessage | undefined;
      try {
        message = decodeMessage(data, isBinary);
      } catch (cause) {
        fail(`cannot read a message from ${endpoint}: ${describeError(cause)}`, cause);
        return;
      }
      if (message === undefined) return;
      if (message.type === 'authenticated') {
        executing = true;
        socket.send(
          JSON.stringify({ type: 'execute', channel: CHANNEL, compress: true, ...computation.execute }),
        );
        return;
      }
      if (message.type === 'error') {
        fail(`SignalFlow refused the request: ${describeStreamError(message)}`);
        return;
      }
      if (message.channel !== CHANNEL) return;
      if (message.type === 'data' && 'points' in message) {
        points.push(...(message as { points: readonly SignalFlowPoint[] }).points);
      } else if (message.type === 'control-message' && message['event'] === 'END_OF_CHANNEL') {
        finish({ points });
      } else if (message.type === 'control-message' && message['event'] === 'CHANNEL_ABORT') {
        fail(`SignalFlow aborted the computation: ${shown(message['abortInfo'])}`);
      }
    });
  });
}

/** Closes politely; an unfinished computation is detached first so SignalFlow can stop it. */
function close(socket: WebSocket, detach: boolean): void {
  if (socket.readyState === WebSocket.OPEN) {
    if (detach)
      socket.send(JSON.stringify({ type: 'detach', channel: CHANNEL, reason: 'Vireo gave up waiting' }));
    socket.close(1000);
  } else if (socket.readyState === WebSocket.CONNECTING) {
    socket.terminate();
  }
}

function describeError(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
}

function describeStreamError(message: Readonly<Record<string, unknown>>): string {
  const parts = [message['error'], message['errorType'], message['message']].filter(
    (part) => part !== undefined && part !== null && part !== '',
  );
  return parts.length === 0
    ? shown(message)
    : parts.map((part) => (typeof part === 'string' ? part : shown(part))).join(' ');
}

/** A JSON value for a message, cut short; `undefined` has no JSON text of its own. */
function shown(value: unknown): string {
  return excerpt(JSON.stringify(value) ?? String(value));
}

const HEADER_BYTES = 20;
const FLAG_COMPRESSED = 1;
const FLAG_JSON = 2;
const POINT_BYTES = 17;
const BINARY_TYPES: Readonly<Record<number, string>> = {
  1: 'control-message',
  2: 'message',
  3: 'event',
  4: 'metadata',
  5: 'data',
  6: 'error',
  7: 'authenticated',
  8: 'computation-started',
  9: 'estimation',
  10: 'expired-tsid',
  11: 'log-data',
  12: 'livetail-started',
};

/**
 * One WebSocket message: JSON text, or a binary message with a 20-byte header (version, type,
 * flags, 16-byte channel name) and a body that may be gzip-compressed and is either JSON or a
 * data batch. Unknown binary types are skipped (undefined), as new ones appear over time.
 */
export function decodeMessage(data: Buffer, isBinary: boolean): SignalFlowMessage | undefined {
  if (!isBinary) return jsonMessage(data.toString('utf8'), undefined);
  if (data.length < HEADER_BYTES)
    throw new Error(`a binary message of ${data.length} bytes is shorter than its header`);
  // Version 1 headers are [version, type, flags, reserved]; version 2 headers are [version (2 bytes), type, flags].
  const version = data.readUInt8(0) === 1 ? 1 : data.readUInt16BE(0);
  const [typeCode, flags] =
    version === 1 ? [data.readUInt8(1), data.readUInt8(2)] : [data.readUInt8(2), data.readUInt8(3)];
  const type = BINARY_TYPES[typeCode];
  if (type === undefined) return undefined;
  const channel = data.subarray(4, HEADER_BYTES).toString('utf8').replace(/\0+$/, '');
  let body = data.subarray(HEADER_BYTES);
  if ((flags & FLAG_COMPRESSED) !== 0) body = gunzipSync(body);
  if ((flags & FLAG_JSON) !== 0) return jsonMessage(body.toString('utf8'), { type, channel });
  if (type !== 'data') return undefined;
  return { type, channel, points: dataBatch(body, version) };
}

function jsonMessage(text: string, header: { type: string; channel: string } | undefined): SignalFlowMessage {
  const parsed = JSON.parse(text) as unknown;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`a message is not a JSON object: ${excerpt(text)}`);
  }
  const message = { ...header, ...(parsed as Record<string, unknown>) };
  if (typeof message.type !== 'string') {
    // Error messages may come without a type; everything else names one.
    if ('error' in message) return { ...message, type: 'error' };
    throw new Error(`a message has no type: ${excerpt(text)}`);
  }
  return message as SignalFlowMessage;
}

/**
 * A data batch body: logical timestamp (8 bytes), [max delay (8 bytes) in version 2], point
 * count (4 bytes), then 17-byte points: value type (0 null, 1 int64, 2 float64, 3 int32 in the
 * low 4 bytes), 8-byte time series id, 8-byte value.
 */
function dataBatch(body: Buffer, version: number): SignalFlowPoint[] {
  const countOffset = version === 1 ? 8 : 16;
  if (body.length < countOffset + 4) throw new Error('a data message is too short');
  const timestampMs = Number(body.readBigUInt64BE(0));
  const count = body.readUInt32BE(countOffset);
  const first = countOffset + 4;
  if (body.length < first + count * POINT_BYTES) {
    throw new Error(`a data message announces ${count} points but holds fewer`);
  }
  const points: SignalFlowPoint[] = [];
  for (let index = 0; index < count; index += 1) {
    const offset = first + index * POINT_BYTES;
    const valueType = body.readUInt8(offset);
    // Time series ids are 8 bytes, written as unpadded base64url (11 characters).
    const tsId = body.subarray(offset + 1, offset + 9).toString('base64url');
    const valueOffset = offset + 9;
    const value =
      valueType === 1
        ? Number(body.readBigInt64BE(valueOffset))
        : valueType === 2
          ? body.readDoubleBE(valueOffset)
          : valueType === 3
            ? body.readInt32BE(valueOffset + 4)
            : null;
    points.push({ tsId, value, timestampMs });
  }
  return points;
}

function valueOf(points: readonly SignalFlowPoint[], start: number, stop: number): number {
  const withValues = points.filter(
    (point): point is SignalFlowPoint & { value: number } =>
      point.value !== null && !Number.isNaN(point.value),
  );
  const newest = withValues.at(-1);
  if (newest === undefined) {
    throw noValues(
      'splunk',
      `the program published no data points between ${new Date(start).toISOString()} and ${new Date(stop).toISOString()}`,
    );
  }
  const series = new Set(withValues.map((point) => point.tsId));
  if (series.size > 1) {
    throw new MultipleValuesError(
      `splunk: the program published ${series.size} time series; publish one, e.g. with .sum() or .mean() before .publish(), and publish(enable=False) the intermediate streams`,
    );
  }
  return newest.value;
}
