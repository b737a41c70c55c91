import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Registry } from 'prom-client';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import {
  cleanups,
  eventually,
  refusedUrl,
  sha256,
  startRawSocketUpstream,
  startRawUpstream,
  type RawUpstream,
} from '../../../../../test/support/router-upstreams.js';
import {
  UpstreamClient,
  type UpstreamClientOptions,
  type UpstreamDispatcher,
  type UpstreamHandler,
} from './upstream-client.js';
import { BACKEND_HEADER, ProxyRouter } from './proxy.js';
import { TrafficRecorder } from './recorder.js';

const cleanup = cleanups();

/** What a caller of dispatch() saw. */
interface Outcome {
  status?: number;
  statusText?: string;
  headers: [string, string][];
  headersCalls: number;
  body: Buffer;
  trailers: string[] | null;
  error?: Error & { code?: string };
}

interface SendOptions {
  method?: string;
  path?: string;
  headers?: string[];
  /** Answer false to every onData and resume on a later turn (backpressure). */
  pauseEachChunk?: boolean;
  /** Observes each chunk (e.g. to abort mid-body). */
  onChunk?: (chunk: Buffer, abort: (reason?: Error) => void) => void;
}

function send(dispatcher: UpstreamDispatcher, origin: string, options: SendOptions = {}): Promise<Outcome> {
  const outcome: Outcome = { headers: [], headersCalls: 0, body: Buffer.alloc(0), trailers: null };
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    let abort: (reason?: Error) => void = () => undefined;
    let resume: () => void = () => undefined;
    let paused = false;
    const handler: UpstreamHandler = {
      onConnect: (abortRequest) => {
        abort = abortRequest;
      },
      onHeaders: (statusCode, rawHeaders, resumeReading, statusText) => {
        outcome.headersCalls += 1;
        outcome.status = statusCode;
        outcome.statusText = statusText;
        resume = resumeReading;
        for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
          outcome.headers.push([rawHeaders[i]!.toString('latin1'), rawHeaders[i + 1]!.toString('latin1')]);
        }
        return true;
      },
      onData: (chunk) => {
        if (paused) throw new Error('data arrived while the handler had paused reading');
        chunks.push(Buffer.from(chunk));
        options.onChunk?.(chunk, abort);
        if (!options.pauseEachChunk) return true;
        paused = true;
        setImmediate(() => {
          paused = false;
          resume();
        });
        return false;
      },
      onComplete: (trailers) => {
        outcome.body = Buffer.concat(chunks);
        outcome.trailers = trailers;
        resolve(outcome);
      },
      onError: (error) => {
        outcome.body = Buffer.concat(chunks);
        outcome.error = error;
        resolve(outcome);
      },
    };
    dispatcher.dispatch(
      {
        origin,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        headers: options.headers ?? [],
        body: null,
      },
      handler,
    );
  });
}

function header(outcome: Outcome, name: string): string | undefined {
  return outcome.headers.find(([key]) => key.toLowerCase() === name)?.[1];
}

function newClient(options: UpstreamClientOptions = {}): UpstreamClient {
  const client = new UpstreamClient(options);
  cleanup(() => client.destroy());
  return client;
}

async function httpUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const upstream = await startRawUpstream('upstream', handler);
  cleanup(() => upstream.close());
  return upstream;
}

/** A raw upstream (test/support), closed after the test. */
async function rawUpstream(
  answer: (socket: Socket, head: string, index: number) => void,
): Promise<RawUpstream> {
  const upstream = await startRawSocketUpstream(answer);
  cleanup(() => upstream.close());
  return upstream;
}

/** A raw upstream answering every request with the same bytes. */
function answering(bytes: string, then: 'keep' | 'end' = 'keep') {
  return rawUpstream((socket) => {
    socket.write(Buffer.from(bytes, 'latin1'));
    if (then === 'end') socket.end();
  });
}

describe('UpstreamClient with node:http upstreams', () => {
  it('forwards the request and returns a Content-Length answer, adding Host from the origin', async () => {
    const upstream = await httpUpstream((req, res) => {
      res.statusCode = 201;
      res.statusMessage = 'Made';
      res.setHeader('x-seen-host', req.headers.host ?? '');
      res.setHeader('x-trace', req.headers['x-trace'] ?? '');
      res.end(`${req.method} ${req.url}`);
    });
    const outcome = await send(newClient(), upstream.url, { path: '/a?b=1', headers: ['x-trace', 't1'] });
    expect(outcome.error).toBeUndefined();
    expect(outcome.status).toBe(201);
    expect(outcome.statusText).toBe('Made');
    expect(header(outcome, 'x-seen-host')).toBe(new URL(upstream.url).host);
    expect(header(outcome, 'x-trace')).toBe('t1');
    expect(header(outcome, 'content-length')).toBe('10');
    expect(outcome.body.toString()).toBe('GET /a?b=1');
  });

  it('sends the Host the caller gives rather than its own', async () => {
    const upstream = await httpUpstream((req, res) => res.end(req.headers.host));
    const outcome = await send(newClient(), upstream.url, { headers: ['host', 'shop.example'] });
    expect(outcome.body.toString()).toBe('shop.example');
  });

  it('decodes a chunked answer and hands over its trailers', async () => {
    const upstream = await httpUpstream((_req, res) => {
      res.writeHead(200, { trailer: 'x-checksum' });
      res.write('first,');
      setImmediate(() => {
        res.write('second');
        res.addTrailers({ 'x-checksum': 'abc' });
        res.end();
      });
    });
    const outcome = await send(newClient(), upstream.url);
    expect(outcome.error).toBeUndefined();
    expect(header(outcome, 'transfer-encoding')).toBe('chunked');
    expect(outcome.body.toString()).toBe('first,second');
    expect(outcome.trailers).toEqual(['x-checksum', 'abc']);
  });

  it('reads no body after 204 and 304, and reuses the connection after each', async () => {
    const upstream = await httpUpstream((req, res) => {
      if (req.url === '/204') res.writeHead(204).end();
      else if (req.url === '/304') res.writeHead(304, { etag: '"v1"' }).end();
      else res.end('after');
    });
    const client = newClient();
    const noContent = await send(client, upstream.url, { path: '/204' });
    expect([noContent.status, noContent.body.length]).toEqual([204, 0]);
    const notModified = await send(client, upstream.url, { path: '/304' });
    expect([notModified.status, header(notModified, 'etag'), notModified.body.length]).toEqual([
      304,
      '"v1"',
      0,
    ]);
    const after = await send(client, upstream.url, { path: '/next' });
    expect(after.body.toString()).toBe('after');
    expect(upstream.connections).toBe(1);
  });

  it('reads no body after HEAD, and does not reuse that connection (a wrongly sent body cannot leak on)', async () => {
    const upstream = await rawUpstream((socket, head) => {
      if (head.startsWith('HEAD ')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n');
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal');
      // A broken server sending the HEAD answer's body anyway, a moment later:
      if (head.startsWith('HEAD ')) setTimeout(() => socket.write('HTTP/1.1 200 OK\r\n\r\nforged'), 5);
    });
    const client = newClient();
    const head = await send(client, upstream.url, { method: 'HEAD' });
    expect([head.status, header(head, 'content-length'), head.body.length]).toEqual([200, '5', 0]);
    expect((await send(client, upstream.url)).body.toString()).toBe('real');
    expect(upstream.connections).toBe(2);
  });

  it('streams a large body in order under backpressure, reading nothing while paused', async () => {
    const body = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 1) body[i] = (i * 31) & 0xff;
    const upstream = await httpUpstream((_req, res) => {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(body);
    });
    const outcome = await send(newClient(), upstream.url, { pauseEachChunk: true });
    expect(outcome.error).toBeUndefined();
    expect(outcome.body.length).toBe(body.length);
    expect(sha256(outcome.body)).toBe(sha256(body));
  });

  it('serves many sequential requests over one upstream connection', async () => {
    const upstream = await httpUpstream((req, res) => res.end(req.url));
    const client = newClient();
    for (let i = 0; i < 50; i += 1) {
      const outcome = await send(client, upstream.url, { path: `/${i}` });
      expect(outcome.body.toString()).toBe(`/${i}`);
    }
    expect(upstream.connections).toBe(1);
  });

  it('serves concurrent requests on separate connections, then reuses them', async () => {
    const upstream = await httpUpstream((req, res) => setTimeout(() => res.end(req.url), 20));
    const client = newClient();
    const first = await Promise.all([1, 2, 3].map((i) => send(client, upstream.url, { path: `/${i}` })));
    expect(first.map((outcome) => outcome.body.toString())).toEqual(['/1', '/2', '/3']);
    const second = await Promise.all([4, 5, 6].map((i) => send(client, upstream.url, { path: `/${i}` })));
    expect(second.map((outcome) => outcome.body.toString())).toEqual(['/4', '/5', '/6']);
    expect(upstream.connections).toBe(3);
  });

  it('never reuses a connection the upstream answered with Connection: close', async () => {
    const upstream = await httpUpstream((_req, res) => res.setHeader('connection', 'close').end('bye'));
    const client = newClient();
    for (let i = 0; i < 3; i += 1) expect((await send(client, upstream.url)).body.toString()).toBe('bye');
    expect(upstream.connections).toBe(3);
  });

  it("keeps an idle connection for the upstream's Keep-Alive hint minus a second, no longer", async () => {
    const upstream = await rawUpstream((socket) =>
      socket.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=3\r\nContent-Length: 2\r\n\r\nok'),
    );
    let clock = 1_000_000;
    const client = newClient({ now: () => clock });
    await send(client, upstream.url);
    clock += 1_900; // within 3 s - 1 s
    await send(client, upstream.url);
    expect(upstream.connections).toBe(1);
    clock += 2_100; // past it: the idle socket is closed, a new one opened
    await send(client, upstream.url);
    expect(upstream.connections).toBe(2);
    await eventually(() => upstream.closed === 1, 10_000);
  });

  it('closes idle connections on its own once their time is up (4 s without a hint by default)', async () => {
    const upstream = await rawUpstream((socket) =>
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
    );
    const client = newClient({ defaultKeepAliveMs: 200 });
    await send(client, upstream.url);
    expect(upstream.closed).toBe(0);
    await eventually(() => upstream.closed === 1, 10_000);
  });

  it('answers like undici for the same request (both fit the fast lane)', async () => {
    const upstream = await httpUpstream((_req, res) => {
      res.writeHead(200, 'Fine', { 'x-a': '1', 'content-type': 'text/plain' }).end('same');
    });
    const agent = new Agent({ headersTimeout: 0, bodyTimeout: 0 });
    cleanup(() => agent.destroy());
    const ours = await send(newClient(), upstream.url);
    const theirs = await send(agent, upstream.url);
    expect([ours.status, ours.statusText, ours.body.toString()]).toEqual([
      theirs.status,
      theirs.statusText,
      theirs.body.toString(),
    ]);
    expect(ours.headers.filter(([name]) => name !== 'Date')).toEqual(
      theirs.headers.filter(([name]) => name !== 'Date'),
    );
  });

  it('close() ends idle connections and lets a request in flight finish', async () => {
    let finish: (() => void) | undefined;
    const upstream = await httpUpstream((req, res) => {
      if (req.url === '/slow') finish = () => res.end('slow');
      else res.end('quick');
    });
    const client = newClient();
    await Promise.all([send(client, upstream.url), send(client, upstream.url)]);
    const slow = send(client, upstream.url, { path: '/slow' });
    await eventually(() => finish !== undefined);
    await client.close();
    finish!();
    expect((await slow).body.toString()).toBe('slow');
    const refused = await send(client, upstream.url);
    expect(refused.error?.message).toMatch(/closed/);
  });
});

describe('UpstreamClient with upstreams writing exact bytes', () => {
  it('reads a head that arrives one byte at a time', async () => {
    const answer = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello';
    const upstream = await rawUpstream((socket) => {
      let at = 0;
      const next = (): void => {
        if (at >= answer.length || socket.destroyed) return;
        socket.write(answer[at]!, 'latin1');
        at += 1;
        setTimeout(next, 1);
      };
      next();
    });
    const outcome = await send(newClient(), upstream.url);
    expect(outcome.error).toBeUndefined();
    expect([outcome.status, header(outcome, 'x-a'), outcome.body.toString()]).toEqual([200, 'b', 'hello']);
  });

  it('reads head and body from one write and reuses the connection', async () => {
    const upstream = await answering(
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Spaces: \t a  b \t\r\n\r\nabc',
    );
    const client = newClient();
    const first = await send(client, upstream.url);
    expect([first.body.toString(), header(first, 'x-spaces')]).toEqual(['abc', 'a  b']);
    expect((await send(client, upstream.url)).body.toString()).toBe('abc');
    expect(upstream.connections).toBe(1);
  });

  it('reads framing and connection headers in any letter case', async () => {
    const upstream = await answering(
      'HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh: 2\r\n\r\nok' +
        'HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: CHUNKED\r\nCONNECTION: CLOSE\r\n\r\n2\r\nhi\r\n0\r\n\r\n',
    );
    // Both answers came in one write for the first request: the second is unasked, so the
    // connection is dropped; ask the second request on a fresh one instead.
    const client = newClient();
    expect((await send(client, upstream.url)).body.toString()).toBe('ok');
    const second = await send(client, upstream.url);
    expect(second.body.toString()).toBe('ok');
    expect(upstream.connections).toBe(2);
    const closing = await answering(
      'HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: CHUNKED\r\nCONNECTION: CLOSE\r\n\r\n2\r\nhi\r\n0\r\n\r\n',
    );
    expect((await send(client, closing.url)).body.toString()).toBe('hi');
    await send(client, closing.url);
    expect(closing.connections).toBe(2);
  });

  it('skips interim 103 and 100 answers and reports only the final one', async () => {
    const upstream = await answering(
      'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n' +
        'HTTP/1.1 100 Continue\r\n\r\n' +
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    );
    const outcome = await send(newClient(), upstream.url);
    expect([outcome.headersCalls, outcome.status, outcome.body.toString()]).toEqual([1, 200, 'ok']);
    expect(header(outcome, 'link')).toBeUndefined();
  });

  it('refuses an unasked 101 Switching Protocols', async () => {
    const upstream = await answering('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n');
    const outcome = await send(newClient(), upstream.url);
    expect(outcome.error?.code).toBe('E_UPSTREAM_PROTOCOL');
    expect(outcome.headersCalls).toBe(0);
  });

  it('reads a body without length until the upstream closes, and never reuses that connection', async () => {
    const upstream = await answering(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end',
      'end',
    );
    const client = newClient();
    const outcome = await send(client, upstream.url);
    expect(outcome.error).toBeUndefined();
    expect(outcome.body.toString()).toBe('until the end');
    await send(client, upstream.url);
    expect(upstream.connections).toBe(2);
  });

  it('treats a transfer coding other than chunked as read-until-close', async () => {
    const upstream = await answering('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw bytes', 'end');
    const outcome = await send(newClient(), upstream.url);
    expect(outcome.body.toString()).toBe('raw bytes');
  });

  it('follows Transfer-Encoding over Content-Length, then discards the connection', async () => {
    const upstream = await answering(
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    );
    const client = newClient();
    const outcome = await send(client, upstream.url);
    expect(outcome.body.toString()).toBe('hello');
    await send(client, upstream.url);
    expect(upstream.connections).toBe(2);
  });

  it('accepts chunk extensions and a list of identical Content-Length values', async () => {
    const chunked = await answering(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;name=value;q="a b"\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n',
    );
    expect((await send(newClient(), chunked.url)).body.toString()).toBe('abc0123456789');
    const listed = await answering('HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok');
    expect((await send(newClient(), listed.url)).body.toString()).toBe('ok');
  });

  const refused: [string, string][] = [
    ['conflicting Content-Length values', 'HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd'],
    [
      'two different Content-Length fields',
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
    ],
    ['a Content-Length that is not a number', 'HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc'],
    ['a status code of four digits', 'HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n'],
    ['another protocol', 'ICY 200 OK\r\nContent-Length: 0\r\n\r\n'],
    ['HTTP/2 in an HTTP/1.1 status line', 'HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n'],
    ['a bare LF ending the lines', 'HTTP/1.1 200 OK\nContent-Length: 0\n\n'],
    ['a bare LF in one header line', 'HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 0\r\n\r\n'],
    ['an obs-fold continuation line', 'HTTP/1.1 200 OK\r\nX-A: one\r\n  two\r\nContent-Length: 0\r\n\r\n'],
    ['a NUL in a header value', 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n'],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n'],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nX-A 1\r\nContent-Length: 0\r\n\r\n'],
    ['a separator in a header name', 'HTTP/1.1 200 OK\r\nX(A): 1\r\nContent-Length: 0\r\n\r\n'],
    ['a bare CR in a header value', 'HTTP/1.1 200 OK\r\nX-A: 1\r2\r\nContent-Length: 0\r\n\r\n'],
    ['a bare CR in a header name', 'HTTP/1.1 200 OK\r\nX-\rA: 1\r\nContent-Length: 0\r\n\r\n'],
    ['a bare CR after the colon', 'HTTP/1.1 200 OK\r\nX-A: \r1\r\nContent-Length: 0\r\n\r\n'],
    ['a CR CR LF ending a header line', 'HTTP/1.1 200 OK\r\nX-A: 1\r\r\nContent-Length: 0\r\n\r\n'],
    ['a DEL in a header value', 'HTTP/1.1 200 OK\r\nX-A: 1\x7f\r\nContent-Length: 0\r\n\r\n'],
    ['chunked before another coding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n'],
    [
      'Transfer-Encoding in an HTTP/1.0 answer',
      'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ],
    [
      'a chunk size that is not hex',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n',
    ],
    [
      'a chunk longer than its size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n',
    ],
    ['a malformed trailer', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n'],
  ];
  it.each(refused)(
    'refuses an answer with %s (E_UPSTREAM_PROTOCOL) and discards the connection',
    async (_what, bytes) => {
      const upstream = await answering(bytes);
      const outcome = await send(newClient(), upstream.url);
      expect(outcome.error?.code).toBe('E_UPSTREAM_PROTOCOL');
      await eventually(() => upstream.closed === 1, 10_000);
    },
  );

  it("refuses a head over node's header size limit, even while it is still arriving", async () => {
    const finished = await answering(
      `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 0\r\n\r\n`,
    );
    expect((await send(newClient(), finished.url)).error?.code).toBe('E_UPSTREAM_PROTOCOL');
    const endless = await answering(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(20_000)}`);
    const outcome = await send(newClient(), endless.url);
    expect(outcome.error?.message).toMatch(/head is over 16384 bytes/);
  });

  it('answers HTTP/1.0 answers but does not reuse their connection', async () => {
    const upstream = await answering(
      'HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok',
    );
    const client = newClient();
    expect((await send(client, upstream.url)).body.toString()).toBe('ok');
    await send(client, upstream.url);
    expect(upstream.connections).toBe(2);
  });

  it('discards a connection that sent bytes beyond the end of its answer', async () => {
    const upstream = await answering(
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nforged',
    );
    const client = newClient();
    expect((await send(client, upstream.url)).body.toString()).toBe('ok');
    const second = await send(client, upstream.url);
    expect(second.body.toString()).not.toBe('forge');
    expect(upstream.connections).toBe(2);
  });

  it('discards an idle connection on which the upstream writes unasked', async () => {
    let sockets: Socket[] = [];
    const upstream = await rawUpstream((socket) => {
      sockets.push(socket);
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const client = newClient();
    await send(client, upstream.url);
    sockets[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged');
    await eventually(() => upstream.closed === 1, 10_000);
    expect((await send(client, upstream.url)).body.toString()).toBe('ok');
    expect(upstream.connections).toBe(2);
    sockets = [];
  });

  it('reports a close before any byte of the answer as ECONNRESET (the fast lane retries it once)', async () => {
    const upstream = await rawUpstream((socket) => socket.end());
    const outcome = await send(newClient(), upstream.url);
    expect(outcome.error?.code).toBe('ECONNRESET');
  });

  it('retries nothing itself: a reused connection the upstream closed reports ECONNRESET or EPIPE', async () => {
    const upstream = await rawUpstream((socket, _head, index) => {
      if (index === 0) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      else socket.destroy();
    });
    const client = newClient();
    await send(client, upstream.url);
    const outcome = await send(client, upstream.url);
    expect(['ECONNRESET', 'EPIPE']).toContain(outcome.error?.code);
  });

  it('reports a close in the middle of the body as E_UPSTREAM_CLOSED, after the bytes that came', async () => {
    const upstream = await rawUpstream((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
      setTimeout(() => socket.end(), 20);
    });
    const outcome = await send(newClient(), upstream.url);
    expect(outcome.status).toBe(200);
    expect(outcome.body.toString()).toBe('partial');
    expect(outcome.error?.code).toBe('E_UPSTREAM_CLOSED');
  });

  it('reports a close in the middle of a chunked body as E_UPSTREAM_CLOSED', async () => {
    const upstream = await answering('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel', 'end');
    const outcome = await send(newClient(), upstream.url);
    expect(outcome.error?.code).toBe('E_UPSTREAM_CLOSED');
  });

  it('reports a refused connection as ECONNREFUSED', async () => {
    const outcome = await send(newClient(), await refusedUrl());
    expect(outcome.error?.code).toBe('ECONNREFUSED');
  });

  it('abort() ends the request with its reason and closes the connection', async () => {
    const upstream = await answering('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst part');
    const outcome = await send(newClient(), upstream.url, {
      onChunk: (_chunk, abort) => abort(new Error('the client left')),
    });
    expect(outcome.error?.message).toBe('the client left');
    await eventually(() => upstream.closed === 1, 10_000);
  });

  it("a finished request's late abort() leaves the next request on its connection alone", async () => {
    const upstream = await rawUpstream((socket, _head, index) => {
      const answer = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
      if (index === 0) socket.write(answer);
      else setTimeout(() => socket.write(answer), 30);
    });
    const client = newClient();
    let lateAbort: ((reason?: Error) => void) | undefined;
    await send(client, upstream.url, { onChunk: (_chunk, abort) => (lateAbort = abort) });
    const second = send(client, upstream.url);
    await eventually(() => upstream.requests.length === 2);
    lateAbort!(new Error('too late'));
    const outcome = await second;
    expect([outcome.error, outcome.body.toString()]).toEqual([undefined, 'ok']);
    expect(upstream.connections).toBe(1);
  });

  it('refuses to send a header value with CR or LF, so nothing can be smuggled upstream', async () => {
    const upstream = await answering('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    const outcome = await send(newClient(), upstream.url, { headers: ['x-a', 'b\r\nx-injected: 1'] });
    expect(outcome.error?.code).toBe('E_UPSTREAM_PROTOCOL');
    expect(upstream.requests).toEqual([]);
  });

  it('destroy() fails a request in flight', async () => {
    const upstream = await rawUpstream(() => undefined);
    const client = newClient();
    const pending = send(client, upstream.url);
    await eventually(() => upstream.requests.length === 1);
    await client.destroy();
    expect((await pending).error).toBeDefined();
  });
});

describe('the fast lane on UpstreamClient', () => {
  it('answers 502 for an ambiguous upstream answer and serves the next request from a fresh connection', async () => {
    // The first answer carries a second, forged one after its body; a desynchronised pool would
    // hand that to the next request.
    const upstream = await rawUpstream((socket, head) => {
      if (head.startsWith('GET /ambiguous ')) {
        socket.write(
          'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\nok' +
            'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged',
        );
      } else {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal');
      }
    });
    const router = await ProxyRouter.start(
      {
        namespace: 'test',
        service: 'podinfo',
        listen: { host: '127.0.0.1', port: 0 },
        primary: [upstream.url],
        canary: [],
        canaryWeight: 0,
        mirror: false,
        match: [],
      },
      { recorder: new TrafficRecorder({ registry: new Registry() }) },
    );
    cleanup(() => router.close());
    const refused = await request(`${router.url}/ambiguous`);
    expect(refused.statusCode).toBe(502);
    expect(refused.headers[BACKEND_HEADER]).toBe('primary');
    expect(await refused.body.text()).toMatch(/E_UPSTREAM_PROTOCOL/);
    const next = await request(`${router.url}/next`);
    expect([next.statusCode, await next.body.text()]).toEqual([200, 'real']);
    expect(upstream.connections).toBe(2);
  });
});
