import { afterEach } from 'vitest';
/**
 * Test helpers (not shipped behaviour): a real HTTP server on 127.0.0.1 that records what
 * notifiers and metric providers send and answers as told, and a tiny forward proxy that records how it was asked.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  /** Path and query, as the server saw them. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface Answer {
  readonly status: number;
  readonly body?: string;
  /** Defaults to text/plain; a JSON API's stand-in says application/json. */
  readonly contentType?: string;
  /** More response headers (a `content-type` here wins over `contentType`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Never answer (to exercise timeouts). */
  readonly hang?: boolean;
}

export interface RecordingServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  readonly close: () => Promise<void>;
}

/**
 * Recording servers that close themselves after each test: `const server = recordingServers();`
 * at the top of a test file, then `await server()` (or `server(answer)`) in a test.
 */
export function recordingServers(defaultAnswer?: Parameters<typeof startRecordingServer>[0]) {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });
  const server = async (answer = defaultAnswer): Promise<RecordingServer> => {
    const started = await startRecordingServer(answer);
    closers.push(started.close);
    return started;
  };
  return Object.assign(server, { onClose: (close: () => Promise<void>) => closers.push(close) });
}

export async function startRecordingServer(
  answer: (request: RecordedRequest, index: number) => Answer = () => ({ status: 200, body: 'ok' }),
): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      const reply = answer(recorded, requests.length - 1);
      if (reply.hang === true) return;
      res
        .writeHead(reply.status, { 'content-type': reply.contentType ?? 'text/plain', ...reply.headers })
        .end(reply.body ?? '');
    });
  });
  const url = await listen(server);
  return { url, requests, close: () => closeServer(server) };
}

export interface RecordingProxy {
  readonly url: string;
  /** `CONNECT host:port` targets, or absolute-form request URLs. */
  readonly seen: string[];
  readonly close: () => Promise<void>;
}

export async function startRecordingProxy(): Promise<RecordingProxy> {
  const seen: string[] = [];
  const tunnels = new Set<Socket>();
  const server = createServer((req, res) => {
    // Absolute-form (`POST http://host/path`): forward it as a plain proxy would.
    seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
    const upstream = httpRequest(req.url ?? '', { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  server.on('connect', (req, client: Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url ?? ''}`);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host ?? '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const socket of [client, upstream]) {
      tunnels.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => tunnels.delete(socket));
    }
  });
  const url = await listen(server);
  return {
    url,
    seen,
    close: async () => {
      for (const socket of tunnels) socket.destroy();
      await closeServer(server);
    },
  };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A message as the AlertRouter builds it for a failed canary. */
export const failedCanaryMessage = {
  canary: { name: 'podinfo', namespace: 'test' },
  target: 'Deployment/podinfo.test',
  severity: 'error',
  text: 'Failed checks threshold reached 5',
  fields: [
    ['Target', 'Deployment/podinfo.test'],
    ['Failed checks threshold', '5'],
  ],
} as const satisfies import('../../src/engine/ports.js').AlertMessage;

export const noSleep = (): Promise<void> => Promise.resolve();

/** A JSON answer, as the APIs that metric providers query give them. */
export const jsonAnswer = (status: number, body: unknown, contentType = 'application/json'): Answer => ({
  status,
  body: JSON.stringify(body),
  contentType,
});
