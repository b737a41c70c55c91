/**
 * Test helpers for the built-in router (not shipped behaviour): real upstream servers on
 * 127.0.0.1 that record what reached them and answer with who they are, a seeded random
 * source, and a cleanup list run after each test.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach } from 'vitest';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyLength: number;
  readonly bodySha256: string;
}

export interface TestUpstream {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly received: ReceivedRequest[];
  /** Connections the upstream accepted (keep-alive reuse shows as fewer connections). */
  connections: number;
  close(): Promise<void>;
}

/** Answers a request after its body was read; the default answers 200 `{name, …}` as JSON. */
export type UpstreamHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  received: ReceivedRequest,
  name: string,
) => void;

export const answerWhoAmI: UpstreamHandler = (_req, res, received, name) => {
  const body = JSON.stringify({ name, ...received });
  res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name }).end(body);
};

/** A server whose handler runs on the raw request, before the body is read (for streaming tests). */
export async function startRawUpstream(
  name: string,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestUpstream> {
  const received: ReceivedRequest[] = [];
  const server = createServer(handler);
  return listen(server, name, received);
}

export async function startUpstream(
  name: string,
  handler: UpstreamHandler = answerWhoAmI,
): Promise<TestUpstream> {
  const received: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    const hash = createHash('sha256');
    let bodyLength = 0;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bodyLength += chunk.length;
    });
    req.on('end', () => {
      const entry: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        bodyLength,
        bodySha256: hash.digest('hex'),
      };
      received.push(entry);
      handler(req, res, entry, name);
    });
  });
  return listen(server, name, received);
}

async function listen(
  server: ReturnType<typeof createServer>,
  name: string,
  received: ReceivedRequest[],
): Promise<TestUpstream> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const upstream: TestUpstream = {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  server.on('connection', () => {
    upstream.connections += 1;
  });
  return upstream;
}

/** A port nothing listens on (bound, then released). */
export async function refusedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** mulberry32: a small seeded generator, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `const cleanup = cleanups();` then `cleanup(() => thing.close())`: run after each test, newest first. */
export function cleanups(): (close: () => Promise<unknown> | void) => void {
  const pending: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const close of pending.splice(0).reverse()) await close();
  });
  return (close) => {
    pending.push(close);
  };
}

/** Polls until `condition` holds (for asynchronous side effects such as mirrored copies). */
export async function eventually(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface RawUpstream {
  readonly url: string;
  /** Connections accepted so far. */
  connections: number;
  /** Request heads received, in order. */
  readonly requests: string[];
  /** Connections the client has closed (or reset). */
  closed: number;
  close(): Promise<void>;
}

/**
 * A `net` server that answers each request head with exact bytes: `answer` gets the head, the
 * socket, and the request's number on that connection (0 first).
 */
export async function startRawSocketUpstream(
  answer: (socket: Socket, head: string, index: number) => void,
): Promise<RawUpstream> {
  const sockets = new Set<Socket>();
  const upstream: RawUpstream = {
    url: '',
    connections: 0,
    requests: [],
    closed: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createNetServer((socket) => {
    upstream.connections += 1;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      upstream.closed += 1;
    });
    let pending = '';
    let index = 0;
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      let end: number;
      while ((end = pending.indexOf('\r\n\r\n')) !== -1) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        upstream.requests.push(head);
        answer(socket, head, index);
        index += 1;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (upstream as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return upstream;
}
