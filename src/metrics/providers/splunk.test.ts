import { createServer, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  MetricProviderConfigError,
  MetricQueryError,
  MultipleValuesError,
  NoValuesFoundError,
} from '../errors.js';
import type { ProviderSettings } from '../provider.js';
import { decodeMessage, endpointsOf, SplunkProvider } from './splunk.js';

// The official client's parser: the test's binary messages must read the same through it, so
// the stand-in speaks exactly the protocol Splunk's own client understands.
const officialParser = createRequire(import.meta.url)(
  'signalfx/lib/client/signalflow/websocket_message_parser.js',
) as {
  parseWebSocketMessage(
    message: { data: ArrayBuffer },
    knownComputations: object,
  ): Record<string, unknown> | null;
};

const TOKEN = 'sf-org-token-0123456789';
const NOW = new Date('2026-11-23T20:40:00Z');
const now = (): Date => NOW;
const PROGRAM = `total = data('traces.count', filter=filter('sf_service', 'podinfo')).sum().publish(enable=False)
success = data('traces.count', filter=filter('sf_service', 'podinfo') and filter('sf_error', 'false')).sum().publish(enable=False)
((success/total) * 100).publish()`;

// ---- SignalFlow wire format, as websocket_message_parser.js reads it -------------------------

const TYPE_CODES = {
  'control-message': 1,
  message: 2,
  metadata: 4,
  data: 5,
  error: 6,
  authenticated: 7,
} as const;

function header(typeCode: number, flags: number, channel: string, version: 1 | 2 = 1): Buffer {
  const bytes = Buffer.alloc(20);
  if (version === 1) bytes.writeUInt8(1, 0);
  else bytes.writeUInt16BE(512, 0);
  bytes.writeUInt8(typeCode, version === 1 ? 1 : 2);
  bytes.writeUInt8(flags, version === 1 ? 2 : 3);
  bytes.write(channel, 4, 16, 'utf8');
  return bytes;
}

/** A JSON message in a binary frame (json flag), gzip-compressed when asked. */
function binaryJson(type: keyof typeof TYPE_CODES, channel: string, body: object, compress = true): Buffer {
  const json = Buffer.from(JSON.stringify(body));
  return Buffer.concat([
    header(TYPE_CODES[type], 2 | (compress ? 1 : 0), channel),
    compress ? gzipSync(json) : json,
  ]);
}

type Point = { tsId: Buffer; value: number | null; kind?: 'long' | 'double' | 'int' };

/** A data batch: timestamp, [max delay in version 2], count, 17-byte points. */
function dataBatch(
  channel: string,
  timestampMs: number,
  points: Point[],
  options: { version?: 1 | 2; compress?: boolean } = {},
): Buffer {
  const version = options.version ?? 1;
  const lead = Buffer.alloc(version === 1 ? 12 : 20);
  lead.writeBigUInt64BE(BigInt(timestampMs), 0);
  if (version === 2) lead.writeBigUInt64BE(1000n, 8);
  lead.writeUInt32BE(points.length, version === 1 ? 8 : 16);
  const encoded = points.map((point) => {
    const bytes = Buffer.alloc(17);
    const kind = point.value === null ? 'null' : (point.kind ?? 'double');
    bytes.writeUInt8({ null: 0, long: 1, double: 2, int: 3 }[kind], 0);
    point.tsId.copy(bytes, 1);
    if (kind === 'long') bytes.writeBigInt64BE(BigInt(point.value ?? 0), 9);
    if (kind === 'double') bytes.writeDoubleBE(point.value ?? 0, 9);
    if (kind === 'int') bytes.writeInt32BE(point.value ?? 0, 13);
    return bytes;
  });
  const body = Buffer.concat([lead, ...encoded]);
  const compress = options.compress ?? false;
  return Buffer.concat([
    header(TYPE_CODES.data, compress ? 1 : 0, channel, version),
    compress ? gzipSync(body) : body,
  ]);
}

const SERIES_A = Buffer.from([0, 0, 0, 0, 0x1a, 0x2b, 0x3c, 0x4d]);
const SERIES_B = Buffer.from([0, 0, 0, 0, 0x5e, 0x6f, 0x70, 0x81]);
const tsIdOf = (bytes: Buffer): string => bytes.toString('base64url');

function official(frame: Buffer): Record<string, unknown> | null {
  const buffer = frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength) as ArrayBuffer;
  return officialParser.parseWebSocketMessage({ data: buffer }, {});
}

// ---- A local SignalFlow endpoint -------------------------------------------------------------

interface Session {
  readonly socket: WebSocket;
  /** The `execute` message, once it came. */
  readonly execute: Record<string, unknown>;
  send(frame: Buffer | object): void;
}

interface SignalFlowStandIn {
  readonly url: string;
  readonly received: Record<string, unknown>[];
  readonly upgrades: IncomingMessage[];
  readonly restRequests: IncomingMessage[];
  /** Resolves when the client's socket has closed on the server side. */
  readonly closed: Promise<number>;
}

interface StandInOptions {
  /** What to do once the client executed a program. */
  onExecute?: (session: Session) => void;
  /** Answer the authenticate message; the default accepts TOKEN. */
  onAuthenticate?: (socket: WebSocket, token: unknown) => void;
  /** Refuse the upgrade with this status. */
  refuseUpgrade?: number;
  rest?: { status: number; body: string };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function signalFlow(options: StandInOptions = {}): Promise<SignalFlowStandIn> {
  const received: Record<string, unknown>[] = [];
  const upgrades: IncomingMessage[] = [];
  const restRequests: IncomingMessage[] = [];
  const sockets = new Set<Socket>();
  let onClosed: (code: number) => void = () => undefined;
  const closed = new Promise<number>((resolve) => (onClosed = resolve));
  const http = createServer((request, response) => {
    restRequests.push(request);
    const rest = options.rest ?? { status: 200, body: '{"count":1,"results":[{"name":"cpu.utilization"}]}' };
    response.writeHead(rest.status, { 'content-type': 'application/json' }).end(rest.body);
  });
  http.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
    upgrades.push(request);
    if (options.refuseUpgrade !== undefined) {
      socket.end(`HTTP/1.1 ${options.refuseUpgrade} Unauthorized\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      ws.on('close', (code) => onClosed(code));
      ws.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
        received.push(message);
        if (message['type'] === 'authenticate') {
          if (options.onAuthenticate !== undefined) options.onAuthenticate(ws, message['token']);
          else ws.send(JSON.stringify({ type: 'authenticated', orgId: 'AAAAAAA', userId: 'BBBBBBB' }));
        }
        if (message['type'] === 'execute') {
          options.onExecute?.({
            socket: ws,
            execute: message,
            send: (frame) => ws.send(Buffer.isBuffer(frame) ? frame : JSON.stringify(frame)),
          });
        }
      });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    for (const client of wss.clients) client.terminate();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    received,
    upgrades,
    restRequests,
    closed,
  };
}

/** What a bounded computation streams, in the order SignalFlow sends it. */
function streamComputation(session: Session, batches: Buffer[]): void {
  const channel = String(session.execute['channel']);
  session.send({ type: 'control-message', channel, event: 'STREAM_START', timestampMs: NOW.getTime() });
  session.send(
    binaryJson('control-message', channel, {
      event: 'JOB_START',
      handle: 'DxYz123AAAA',
      timestampMs: NOW.getTime(),
    }),
  );
  session.send(
    binaryJson('message', channel, {
      logicalTimestampMs: NOW.getTime() - 600_000,
      message: {
        messageCode: 'JOB_RUNNING_RESOLUTION',
        messageLevel: 'INFO',
        contents: { resolutionMs: 60_000 },
      },
    }),
  );
  session.send(
    binaryJson('metadata', channel, {
      tsId: tsIdOf(SERIES_A),
      properties: {
        sf_key: ['sf_originatingMetric'],
        sf_metric: '_SF_COMP_DxYz123AAAA_01',
        sf_resolutionMs: 60_000,
      },
    }),
  );
  for (const batch of batches) session.send(batch);
  session.send(
    binaryJson('control-message', channel, { event: 'END_OF_CHANNEL', timestampMs: NOW.getTime() }),
  );
}

function settings(address: string, extra: Partial<ProviderSettings> = {}): ProviderSettings {
  return {
    source: 'MetricTemplate istio-system/success-rate',
    address,
    secret: { sf_token_key: TOKEN },
    secretName: 'splunk',
    interval: '1m',
    ...extra,
  };
}

const failureOf = async (promise: Promise<unknown>): Promise<Error> =>
  (await promise.then(
    () => new Error('expected a failure'),
    (error: unknown) => error,
  )) as Error;

describe('SignalFlow binary messages', () => {
  it('decode data batches as the official client does: long, double, int, null, versions 1 and 2, gzip', () => {
    const points: Point[] = [
      { tsId: SERIES_A, value: -42, kind: 'long' },
      { tsId: SERIES_A, value: 99.25, kind: 'double' },
      { tsId: SERIES_B, value: 7, kind: 'int' },
      { tsId: SERIES_B, value: null },
    ];
    for (const options of [
      { version: 1 as const },
      { version: 2 as const },
      { version: 2 as const, compress: true },
    ]) {
      const frame = dataBatch('vireo-0', 1_700_000_000_000, points, options);
      const theirs = official(frame);
      const ours = decodeMessage(frame, true);
      expect(theirs).toMatchObject({
        type: 'data',
        channel: 'vireo-0',
        logicalTimestampMs: 1_700_000_000_000,
      });
      expect(ours).toEqual({
        type: 'data',
        channel: 'vireo-0',
        points: (theirs?.['data'] as { tsId: string; value: number | null }[]).map((point) => ({
          ...point,
          timestampMs: 1_700_000_000_000,
        })),
      });
      expect((ours as unknown as { points: { tsId: string; value: number | null }[] }).points).toEqual([
        { tsId: tsIdOf(SERIES_A), value: -42, timestampMs: 1_700_000_000_000 },
        { tsId: tsIdOf(SERIES_A), value: 99.25, timestampMs: 1_700_000_000_000 },
        { tsId: tsIdOf(SERIES_B), value: 7, timestampMs: 1_700_000_000_000 },
        { tsId: tsIdOf(SERIES_B), value: null, timestampMs: 1_700_000_000_000 },
      ]);
    }
  });

  it('decode JSON in binary frames, compressed or not, and JSON text frames', () => {
    const body = { event: 'END_OF_CHANNEL', timestampMs: 5 };
    for (const frame of [
      binaryJson('control-message', 'vireo-0', body),
      binaryJson('control-message', 'vireo-0', body, false),
    ]) {
      expect(official(frame)).toMatchObject({ type: 'control-message', channel: 'vireo-0', ...body });
      expect(decodeMessage(frame, true)).toEqual({ type: 'control-message', channel: 'vireo-0', ...body });
    }
    expect(decodeMessage(Buffer.from('{"type":"authenticated","orgId":"o"}'), false)).toEqual({
      type: 'authenticated',
      orgId: 'o',
    });
    expect(decodeMessage(Buffer.from('{"error":401,"message":"bad token"}'), false)).toEqual({
      type: 'error',
      error: 401,
      message: 'bad token',
    });
  });

  it('skip unknown binary types instead of crashing, and refuse garbage with an Error', () => {
    const unknown = Buffer.concat([header(99, 0, 'vireo-0'), Buffer.from('??')]);
    expect(decodeMessage(unknown, true)).toBeUndefined();
    expect(() => decodeMessage(Buffer.from('not json'), false)).toThrow();
    expect(() => decodeMessage(Buffer.from('null'), false)).toThrow(/not a JSON object/);
    expect(() => decodeMessage(Buffer.from([1, 5]), true)).toThrow(/shorter than its header/);
    expect(() =>
      decodeMessage(dataBatch('c', 1, [{ tsId: SERIES_A, value: 1 }]).subarray(0, 40), true),
    ).toThrow(/announces 1 points/);
  });
});

describe('Splunk endpoints', () => {
  it.each([
    [
      'https://api.us1.signalfx.com',
      'wss://stream.us1.signalfx.com/v2/signalflow/connect',
      'https://api.us1.signalfx.com/',
    ],
    [
      'wss://stream.eu0.signalfx.com',
      'wss://stream.eu0.signalfx.com/v2/signalflow/connect',
      'https://api.eu0.signalfx.com/',
    ],
    [
      'https://api.jp0.signalfx.com/',
      'wss://stream.jp0.signalfx.com/v2/signalflow/connect',
      'https://api.jp0.signalfx.com/',
    ],
    [
      'http://127.0.0.1:8080/proxy',
      'ws://127.0.0.1:8080/proxy/v2/signalflow/connect',
      'http://127.0.0.1:8080/proxy',
    ],
  ])('derives both from %s', (address, stream, api) => {
    const endpoints = endpointsOf({ source: 's', address });
    expect(endpoints.stream.href).toBe(stream);
    expect(endpoints.api).toBe(api);
  });

  it('needs an address that is a URL of a known scheme', () => {
    expect(() => endpointsOf({ source: 'MetricTemplate t/m', address: undefined })).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate t/m: splunk needs spec.provider.address, the API of your realm, such as https://api.us1.signalfx.com',
      ),
    );
    expect(() => endpointsOf({ source: 's', address: 'api.us1.signalfx.com' })).toThrow(/is not a URL/);
    expect(() => endpointsOf({ source: 's', address: 'ftp://api.us1.signalfx.com' })).toThrow(/not ftp:/);
  });
});

describe('Splunk provider', () => {
  it('authenticates, executes the program over now − 10×interval … now and returns the newest value', async () => {
    const standIn = await signalFlow({
      onExecute: (session) =>
        streamComputation(session, [
          dataBatch(String(session.execute['channel']), NOW.getTime() - 120_000, [
            { tsId: SERIES_A, value: 97.5 },
          ]),
          dataBatch(
            String(session.execute['channel']),
            NOW.getTime() - 60_000,
            [{ tsId: SERIES_A, value: 98.75 }],
            {
              version: 2,
              compress: true,
            },
          ),
          dataBatch(String(session.execute['channel']), NOW.getTime(), [{ tsId: SERIES_A, value: null }]),
        ]),
    });
    const provider = new SplunkProvider(settings(standIn.url), { now });
    expect(await provider.queryValue(PROGRAM)).toBe(98.75);

    expect(standIn.upgrades.map((request) => request.url)).toEqual(['/v2/signalflow/connect']);
    const [authenticate, execute] = standIn.received;
    expect(authenticate).toEqual({ type: 'authenticate', token: TOKEN });
    expect(execute).toEqual({
      type: 'execute',
      channel: 'vireo-0',
      compress: true,
      program: PROGRAM,
      start: NOW.getTime() - 10 * 60_000,
      stop: NOW.getTime(),
      immediate: true,
    });
    expect(await standIn.closed).toBe(1000);
  });

  it('sizes the window by the interval', async () => {
    const standIn = await signalFlow({
      onExecute: (session) =>
        streamComputation(session, [
          dataBatch('vireo-0', NOW.getTime(), [{ tsId: SERIES_A, value: 3, kind: 'long' }]),
        ]),
    });
    expect(
      await new SplunkProvider(settings(standIn.url, { interval: '30s' }), { now }).queryValue('x'),
    ).toBe(3);
    expect(standIn.received[1]).toMatchObject({ start: NOW.getTime() - 300_000, stop: NOW.getTime() });
  });

  it('ignores messages of other channels and binary message types it does not know', async () => {
    const standIn = await signalFlow({
      onExecute: (session) => {
        session.send(Buffer.concat([header(42, 0, 'vireo-0'), Buffer.from('future')]));
        session.send(dataBatch('other', NOW.getTime(), [{ tsId: SERIES_B, value: 1 }]));
        streamComputation(session, [dataBatch('vireo-0', NOW.getTime(), [{ tsId: SERIES_A, value: 5 }])]);
      },
    });
    expect(await new SplunkProvider(settings(standIn.url), { now }).queryValue('x')).toBe(5);
  });

  it('turns no data points, or only nulls, into NoValuesFoundError', async () => {
    for (const batches of [
      [],
      [
        dataBatch('vireo-0', NOW.getTime(), [
          { tsId: SERIES_A, value: null },
          { tsId: SERIES_A, value: Number.NaN },
        ]),
      ],
    ]) {
      const standIn = await signalFlow({ onExecute: (session) => streamComputation(session, batches) });
      const error = await failureOf(new SplunkProvider(settings(standIn.url), { now }).queryValue('x'));
      expect(error).toBeInstanceOf(NoValuesFoundError);
      expect(error.message).toBe(
        'splunk: no values found (the program published no data points between 2026-11-23T20:30:00.000Z and 2026-11-23T20:40:00.000Z): is the canary receiving traffic, and does the query select its series?',
      );
    }
  });

  it('refuses a program that publishes several time series with MultipleValuesError', async () => {
    const standIn = await signalFlow({
      onExecute: (session) =>
        streamComputation(session, [
          dataBatch('vireo-0', NOW.getTime(), [
            { tsId: SERIES_A, value: 1 },
            { tsId: SERIES_B, value: 2 },
          ]),
        ]),
    });
    await expect(new SplunkProvider(settings(standIn.url), { now }).queryValue('x')).rejects.toBeInstanceOf(
      MultipleValuesError,
    );
  });

  it("reports SignalFlow's error message for a bad program, and closes", async () => {
    const standIn = await signalFlow({
      onExecute: (session) =>
        session.send({
          type: 'error',
          channel: 'vireo-0',
          error: 400,
          errorType: 'ANALYTICS_PROGRAM_NAME_ERROR',
          message: "Unknown function or method 'dat' at line 1",
          context: { line: 1, column: 1 },
        }),
    });
    await expect(
      new SplunkProvider(settings(standIn.url), { now }).queryValue('dat("x").publish()'),
    ).rejects.toThrow(
      new MetricQueryError(
        "splunk: SignalFlow refused the request: 400 ANALYTICS_PROGRAM_NAME_ERROR Unknown function or method 'dat' at line 1",
      ),
    );
    await standIn.closed;
    expect(standIn.received.at(-1)).toEqual({
      type: 'detach',
      channel: 'vireo-0',
      reason: 'Vireo gave up waiting',
    });
  });

  it('reports a refused token (error message, then close) without echoing it', async () => {
    const standIn = await signalFlow({
      onAuthenticate: (socket) => {
        socket.send(JSON.stringify({ type: 'error', error: 401, message: 'Invalid authentication token' }));
        socket.close(4401, 'Unauthorized');
      },
    });
    const error = await failureOf(new SplunkProvider(settings(standIn.url), { now }).queryValue('x'));
    expect(error).toBeInstanceOf(MetricQueryError);
    expect(error.message).toBe('splunk: SignalFlow refused the request: 401 Invalid authentication token');
    expect(error.message).not.toContain(TOKEN);
  });

  it('reports a connection closed before the end, and an aborted channel', async () => {
    const closing = await signalFlow({
      onExecute: (session) => session.socket.close(1011, 'internal error'),
    });
    const closed = await failureOf(new SplunkProvider(settings(closing.url), { now }).queryValue('x'));
    expect(closed.message).toBe(
      `splunk: ${closing.url.replace('http', 'ws')}/v2/signalflow/connect closed the connection (1011: internal error) before the computation ended: check sf_token_key and that the address is your realm's`,
    );
    const aborting = await signalFlow({
      onExecute: (session) =>
        session.send(
          binaryJson('control-message', 'vireo-0', {
            event: 'CHANNEL_ABORT',
            abortInfo: { sf_job_abortState: 'FAILED', sf_job_abortReason: 'Too many time series' },
          }),
        ),
    });
    await expect(new SplunkProvider(settings(aborting.url), { now }).queryValue('x')).rejects.toThrow(
      /splunk: SignalFlow aborted the computation: .*Too many time series/,
    );
  });

  it('reports an unreadable message instead of crashing', async () => {
    const standIn = await signalFlow({
      onExecute: (session) => session.socket.send('<html>proxy error</html>'),
    });
    await expect(new SplunkProvider(settings(standIn.url), { now }).queryValue('x')).rejects.toThrow(
      /splunk: cannot read a message from ws:\/\/127.0.0.1:\d+\/v2\/signalflow\/connect/,
    );
  });

  it('reports a refused upgrade, an unreachable address and a timeout, closing the socket each time', async () => {
    const refusing = await signalFlow({ refuseUpgrade: 401 });
    await expect(new SplunkProvider(settings(refusing.url), { now }).queryValue('x')).rejects.toThrow(
      /refused the WebSocket connection with HTTP 401/,
    );
    await expect(new SplunkProvider(settings('http://127.0.0.1:1'), { now }).queryValue('x')).rejects.toThrow(
      /splunk: cannot reach ws:\/\/127.0.0.1:1\/v2\/signalflow\/connect: .*ECONNREFUSED/,
    );
    const silent = await signalFlow({ onExecute: () => undefined });
    const timedOut = await failureOf(
      new SplunkProvider(settings(silent.url), { now, timeoutMs: 100 }).queryValue('x'),
    );
    expect(timedOut).toBeInstanceOf(MetricQueryError);
    expect(timedOut.message).toMatch(/no answer from .* within 100 ms \(the computation did not end\)/);
    expect(await silent.closed).toBe(1000);
    expect(silent.received.at(-1)).toMatchObject({ type: 'detach', channel: 'vireo-0' });
    const mute = await signalFlow({ onAuthenticate: () => undefined });
    await expect(
      new SplunkProvider(settings(mute.url), { now, timeoutMs: 100 }).queryValue('x'),
    ).rejects.toThrow(/within 100 ms \(not authenticated\)/);
  });

  it('needs sf_token_key, a Secret, an address and a usable interval', () => {
    expect(
      () => new SplunkProvider(settings('https://api.us1.signalfx.com', { secret: { token: 'x' } })),
    ).toThrow(new MetricProviderConfigError('splunk: the Secret "splunk" has no "sf_token_key" key: add it'));
    expect(() => new SplunkProvider(settings('https://api.us1.signalfx.com', { secret: undefined }))).toThrow(
      /splunk needs credentials: set spec.provider.secretRef to a Secret with the key "sf_token_key"/,
    );
    expect(() => new SplunkProvider(settings(''))).toThrow(/splunk needs spec.provider.address/);
    expect(() => new SplunkProvider(settings('https://api.us1.signalfx.com', { interval: '0s' }))).toThrow(
      /splunk: the metric interval "0s" is not a positive duration such as "1m"/,
    );
  });

  it('is online when GET /v2/metric?limit=1 accepts the token in X-SF-Token', async () => {
    const standIn = await signalFlow();
    expect(await new SplunkProvider(settings(standIn.url)).isOnline()).toBe(true);
    const [request] = standIn.restRequests;
    expect(request?.method).toBe('GET');
    expect(request?.url).toBe('/v2/metric?limit=1');
    expect(request?.headers['x-sf-token']).toBe(TOKEN);
    const refusing = await signalFlow({
      rest: { status: 401, body: '{"code":401,"message":"Unauthorized"}' },
    });
    const error = await failureOf(new SplunkProvider(settings(refusing.url)).isOnline());
    expect(error.message).toBe(
      `splunk: ${refusing.url}/v2/metric answered HTTP 401: {"code":401,"message":"Unauthorized"}`,
    );
    expect(error.message).not.toContain(TOKEN);
  });
});
