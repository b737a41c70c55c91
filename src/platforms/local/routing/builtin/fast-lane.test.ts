import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Registry } from 'prom-client';
import { Client, Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import {
  cleanups,
  eventually,
  sha256,
  startRawSocketUpstream,
  startRawUpstream,
  startUpstream,
  type TestUpstream,
} from '../../../../../test/support/router-upstreams.js';
import { FIELD_LINE, fieldNameEnd, fieldValueEnd } from './fast-lane.js';
import { BACKEND_HEADER, MIRROR_HEADER, ProxyRouter } from './proxy.js';
import { TrafficRecorder } from './recorder.js';
import type { LocalRoute } from '../route.js';

const cleanup = cleanups();
const MINUTE = 60_000;
const LOAD_TEST_TIMEOUT_MS = 60_000;

function route(overrides: Partial<LocalRoute>): LocalRoute {
  return {
    namespace: 'test',
    service: 'podinfo',
    listen: { host: '127.0.0.1', port: 0 },
    primary: [],
    canary: [],
    canaryWeight: 0,
    mirror: false,
    match: [],
    ...overrides,
  };
}

async function upstream(name: string): Promise<TestUpstream> {
  const started = await startUpstream(name);
  cleanup(() => started.close());
  return started;
}

async function startRouter(overrides: Partial<LocalRoute>) {
  const recorder = new TrafficRecorder({ registry: new Registry() });
  const router = await ProxyRouter.start(route(overrides), { recorder });
  cleanup(() => router.close());
  return { router, recorder };
}

/** Sends raw bytes on one connection and answers everything the router wrote until it closed. */
function rawExchange(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes, 'latin1'));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
}

describe('built-in router fast lane', () => {
  it('answers bodiless, HEAD and body requests on one connection in order, framing each answer right', async () => {
    const primary = await upstream('primary');
    const { router, recorder } = await startRouter({ primary: [primary.url] });
    const client = new Client(router.url, { pipelining: 4 });
    cleanup(() => client.close());
    let connections = 0;
    client.on('connect', () => (connections += 1));

    // HEAD last: undici's client closes its connection after a HEAD.
    const answers = await Promise.all([
      client.request({ path: '/one', method: 'GET' }),
      client.request({ path: '/two', method: 'POST', body: 'hello' }),
      client.request({ path: '/three', method: 'GET' }),
      client.request({ path: '/four', method: 'DELETE' }),
      client.request({ path: '/five', method: 'HEAD' }),
    ]);
    const texts = await Promise.all(answers.map((answer) => answer.body.text()));

    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.map((answer) => answer.headers[BACKEND_HEADER])).toEqual(Array(5).fill('primary'));
    expect(texts[4]).toBe('');
    const seen = texts.slice(0, 4).map((text) => JSON.parse(text) as { url: string; method: string });
    expect(seen.map((entry) => entry.url)).toEqual(['/one', '/two', '/three', '/four']);
    expect(seen[1]).toMatchObject({ method: 'POST', bodyLength: 5 });
    expect(connections).toBe(1);
    expect(primary.received.map((request) => request.url)).toEqual([
      '/one',
      '/two',
      '/three',
      '/four',
      '/five',
    ]);
    const forwarded = primary.received[0]!.headers;
    expect(forwarded).toMatchObject({ 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http' });
    expect(forwarded['x-forwarded-host']).toBe(new URL(router.url).host);
    await eventually(() => recorder.observe('test', 'podinfo', MINUTE).primary.requests === 5);
  });

  it('serves requests pipelined in one write, and closes after the one that asks', async () => {
    const primary = await upstream('primary');
    const { router } = await startRouter({ primary: [primary.url] });
    const head = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: shop.test\r\n${extra}\r\n`;
    const text = await rawExchange(router.url, head('/a') + head('/b') + head('/c', 'Connection: close\r\n'));
    const paths = [...text.matchAll(/"url":"([^"]+)"/g)].map((match) => match[1]);
    expect(paths).toEqual(['/a', '/b', '/c']);
    expect(text.match(/^HTTP\/1\.1 200 OK\r\n/gm)).toHaveLength(3);
    expect(text).toMatch(/connection: close\r\n/);
    expect(primary.received[0]!.headers['x-forwarded-host']).toBe('shop.test');
  });

  it('answers thousands of requests pipelined in one write that it answers itself, and keeps serving', async () => {
    // No primary replica: every answer is the router's own 503, written without waiting for anything.
    const { router } = await startRouter({ primary: [] });
    const count = 3000;
    const request = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
    const text = await rawExchange(
      router.url,
      request.repeat(count - 1) + 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    expect(text.match(/^HTTP\/1\.1 503 /gm)).toHaveLength(count);
    expect(await rawExchange(router.url, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 503 /,
    );
  });

  it('leaves a doubtful request to node:http, which answers it as it always did', async () => {
    const primary = await upstream('primary');
    const { router } = await startRouter({ primary: [primary.url] });
    // No Host header: HTTP/1.1 requires one, node:http answers 400.
    expect(await rawExchange(router.url, 'GET / HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    // A space before the colon (a request-smuggling classic): refused, never forwarded.
    expect(
      await rawExchange(router.url, 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello'),
    ).toMatch(/^HTTP\/1\.1 400 /);
    expect(primary.received).toHaveLength(0);
    // A head that arrives in pieces is parsed by node:http and forwarded.
    const { hostname, port } = new URL(router.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write('GET /split HTTP/1.1\r\nHo');
        setTimeout(() => socket.write('st: a\r\nConnection: close\r\n\r\n'), 50);
      });
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(primary.received.map((request) => request.url)).toEqual(['/split']);
  });

  it('mirrors a bodiless request to the canary and answers the client from the primary', async () => {
    const primary = await upstream('primary');
    const canary = await upstream('canary');
    const { router, recorder } = await startRouter({
      primary: [primary.url],
      canary: [canary.url],
      mirror: true,
    });
    const pool = new Pool(router.url);
    cleanup(() => pool.close());
    const answer = await pool.request({ path: '/shadow', method: 'GET' });
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(await answer.body.text())).toMatchObject({ name: 'primary', url: '/shadow' });
    await eventually(() => canary.received.length === 1);
    expect(canary.received[0]).toMatchObject({ url: '/shadow', headers: { [MIRROR_HEADER]: '1' } });
    expect(primary.received[0]!.headers[MIRROR_HEADER]).toBeUndefined();
    await eventually(() => recorder.observe('test', 'podinfo', MINUTE).canary.requests === 1);
  });

  it.each([
    ['before', 'Content-Length: 2\r\nConnection: content-length, date'],
    ['after', 'Connection: content-length, date\r\nContent-Length: 2'],
  ])(
    'frames an answer whose Connection header names its Content-Length (listed %s it)',
    async (_order, fields) => {
      // The named fields are dropped on the way (hop-by-hop); the client's answer must still be
      // framed, whatever the order of the upstream's lines, or the next answer would run into it.
      const raw = await startRawSocketUpstream((socket) =>
        socket.write(`HTTP/1.1 200 OK\r\n${fields}\r\n\r\nok`),
      );
      cleanup(() => raw.close());
      const { router } = await startRouter({ primary: [raw.url] });

      const text = await rawExchange(
        router.url,
        'GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
      );

      const answers = text.split(/(?=HTTP\/1\.1 )/);
      expect(answers).toHaveLength(2);
      for (const answer of answers) {
        const headEnd = answer.indexOf('\r\n\r\n');
        const head = answer.slice(0, headEnd);
        const body = answer.slice(headEnd + 4);
        expect(head).toMatch(/\r\ntransfer-encoding: chunked(\r\n|$)/i);
        expect(head).not.toMatch(/\r\ncontent-length:/i);
        expect(head).toMatch(/\r\ndate: /i); // the router's own, as for an answer without one
        expect(body).toBe('2\r\nok\r\n0\r\n\r\n');
      }
    },
  );

  it('counts a request whose client left before the answer, and abandons the upstream call', async () => {
    let arrived = false;
    let upstreamClosed = false;
    const held = await startRawUpstream('held', (req) => {
      arrived = true;
      req.socket.on('close', () => (upstreamClosed = true));
    });
    cleanup(() => held.close());
    const { router, recorder } = await startRouter({ primary: [held.url] });
    const { hostname, port } = new URL(router.url);
    const socket = connect(Number(port), hostname, () =>
      socket.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\n'),
    );
    socket.on('error', () => undefined);
    await eventually(() => arrived);
    socket.destroy();
    await eventually(() => recorder.observe('test', 'podinfo', MINUTE).primary.requests === 1);
    await eventually(() => upstreamClosed);
  });

  it(
    'relays a large answer intact to a client that reads slowly while other answers go through',
    async () => {
      // The upstream client reads every socket into one shared buffer: bytes queued for a slow
      // client must be a copy, or the next read (of any upstream connection) would overwrite them.
      const PIECE_BYTES = 1024 * 1024;
      const PIECES = 80;
      // Larger than loopback's socket buffers can take in (up to 32 MiB here), so that writes to
      // the slow client queue in the router; a 251-byte cycle shows any byte out of place.
      const large = Buffer.alloc(PIECES * PIECE_BYTES, randomBytes(251));
      const small = randomBytes(60 * 1024); // reads of it fill most of the shared read buffer
      let piecesSent = 0;
      const source = await startRawUpstream('bytes', (req, res) => {
        if (req.url === '/large') {
          // In pieces, each once the one before was taken: `piecesSent` stops moving once every
          // socket buffer on the way is full.
          res.writeHead(200, { 'content-length': large.length });
          const next = (): void => {
            while (piecesSent < PIECES) {
              const piece = large.subarray(piecesSent * PIECE_BYTES, (piecesSent + 1) * PIECE_BYTES);
              piecesSent += 1;
              if (!res.write(piece)) {
                res.once('drain', next);
                return;
              }
            }
            res.end();
          };
          next();
        } else res.end(small);
      });
      cleanup(() => source.close());
      const { router } = await startRouter({ primary: [source.url] });
      const { hostname, port } = new URL(router.url);
      const slow = connect(Number(port), hostname);
      cleanup(() => void slow.destroy());
      const received: Buffer[] = [];
      const closed = new Promise<void>((resolve) => slow.on('close', () => resolve()));
      slow.on('data', (chunk: Buffer) => received.push(chunk));
      slow.pause();
      slow.write('GET /large HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      let seen = -1;
      await eventually(() => {
        const stopped = piecesSent > 0 && piecesSent === seen;
        seen = piecesSent;
        return stopped;
      });

      const pool = new Pool(router.url, { connections: 4 });
      cleanup(() => pool.close());
      const answers = await Promise.all(
        Array.from({ length: 200 }, async () => {
          const answer = await pool.request({ path: '/small', method: 'GET' });
          return Buffer.from(await answer.body.arrayBuffer());
        }),
      );
      slow.resume();
      await closed;

      expect(answers.every((answer) => answer.equals(small))).toBe(true);
      const text = Buffer.concat(received);
      const headEnd = text.indexOf('\r\n\r\n') + 4;
      expect(text.subarray(0, headEnd).toString('latin1')).toMatch(/^HTTP\/1\.1 200 /);
      const body = text.subarray(headEnd);
      expect(body.length).toBe(large.length);
      expect(sha256(body)).toBe(sha256(large));
    },
    LOAD_TEST_TIMEOUT_MS,
  );

  it(
    'loses no request while routes change under load',
    async () => {
      const [one, two, three] = await Promise.all([upstream('one'), upstream('two'), upstream('three')]);
      const { router, recorder } = await startRouter({
        primary: [one.url],
        canary: [two.url],
        canaryWeight: 50,
      });
      const pool = new Pool(router.url, { connections: 8 });
      cleanup(() => pool.close());
      const routes = [
        route({ primary: [one.url], canary: [two.url], canaryWeight: 50 }),
        route({ primary: [two.url, three.url], canary: [one.url], canaryWeight: 10 }),
        route({ primary: [three.url], canary: [], canaryWeight: 0 }),
        route({ primary: [one.url], canary: [three.url], canaryWeight: 100 }),
      ];
      let turn = 0;
      const switching = setInterval(() => router.configure(routes[(turn += 1) % routes.length]!), 5);
      const total = 600;
      let next = 0;
      const statuses: number[] = [];
      const worker = async () => {
        while (next < total) {
          next += 1;
          const answer = await pool.request({ path: '/', method: 'GET' });
          await answer.body.text();
          statuses.push(answer.statusCode);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      clearInterval(switching);

      expect(statuses).toHaveLength(total);
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      expect(turn).toBeGreaterThan(0);
      // Every answer served (the checks' windows leave out those of replicas replaced meanwhile).
      await eventually(() => {
        const served = recorder.served('test', 'podinfo', MINUTE);
        return served.primary + served.canary === total;
      });
      expect(one.received.length + two.received.length + three.received.length).toBe(total);
    },
    LOAD_TEST_TIMEOUT_MS,
  );
});

describe('fast lane field-line scanner', () => {
  /** The scanner's reading of one line: [name, value], or undefined when it refuses the line. */
  function scanned(line: string): [string, string] | undefined {
    const colon = fieldNameEnd(line, 0, line.length);
    if (colon === -1) return undefined;
    const valueEnd = fieldValueEnd(line, colon + 1, line.length);
    if (valueEnd === -1) return undefined;
    let valueStart = colon + 1;
    while (valueStart < valueEnd && (line[valueStart] === ' ' || line[valueStart] === '\t')) valueStart += 1;
    return [line.slice(0, colon), line.slice(valueStart, valueEnd)];
  }

  /** FIELD_LINE's reading of the same line (the rule the scanner replaces on the hot path). */
  function matched(line: string): [string, string] | undefined {
    const field = FIELD_LINE.exec(line);
    return field === null ? undefined : [field[1]!, field[2]!];
  }

  it('accepts and refuses exactly the lines FIELD_LINE does, with the same name and value', () => {
    const examples = [
      'Host: a',
      'Host:a',
      'Host:   a b  \t',
      'Host:',
      'Host: \t ',
      'X-Obs: caf\xe9',
      ' Host: a',
      'Host : a',
      ': a',
      'Host',
      'Ho\x7fst: a',
      'Host: a\x7fb',
      'Host: a\rb',
      'Host: a\nb',
      'Host: a\0b',
      'Host: a\u0100',
      'Hö: a',
      'Content-Length : 5',
    ];
    // Random lines over the characters that matter: token and separator characters, whitespace,
    // controls, DEL, obs-text and one beyond latin1 (the text is latin1, but the scanner must not
    // rely on it).
    const alphabet = [
      'a',
      'Z',
      '-',
      '!',
      '~',
      ':',
      ' ',
      '\t',
      '\r',
      '\n',
      '\0',
      '\x01',
      '\x7f',
      '\x80',
      '\xff',
      '"',
      '(',
      '\u0100',
    ];
    let seed = 12345;
    const random = (below: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % below;
    };
    const randomText = (longest: number): string => {
      let text = '';
      const length = random(longest + 1);
      for (let j = 0; j < length; j += 1) text += alphabet[random(alphabet.length)]!;
      return text;
    };
    // Mostly shaped like a field (something, a colon, something), so both answers are common.
    for (let i = 0; i < 20_000; i += 1) {
      examples.push(`${randomText(4)}${random(5) === 0 ? '' : ':'}${randomText(8)}`);
    }
    const accepted = examples.filter((line) => matched(line) !== undefined).length;
    expect(accepted).toBeGreaterThan(100); // the random lines exercise both answers
    for (const line of examples) expect([line, scanned(line)]).toEqual([line, matched(line)]);
  });
});
