import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Canary, CanaryWebhook } from '../api/schema/canary.js';
import type { WebhookPayload } from '../engine/ports.js';
import { VERSION } from '../shared/version.js';
import { attemptTimeoutMs, HttpWebhookClient } from './http-webhook-client.js';
import { eventWebhookPayload, headersFromSecret, webhookPayload } from './payload.js';

interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** Answers the n-th request (0-based); may leave `response` open to simulate a hung hook. */
type Reply = (request: ReceivedRequest, response: ServerResponse, index: number) => void;

interface TestServer {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  readonly sockets: Socket[];
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function startServer(reply: Reply, tls?: { key: Buffer; cert: Buffer }): Promise<TestServer> {
  const requests: ReceivedRequest[] = [];
  const sockets: Socket[] = [];
  const handler = (request: import('node:http').IncomingMessage, response: ServerResponse): void => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const received = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(received);
      reply(received, response, requests.length - 1);
    });
  };
  const server = tls === undefined ? createHttpServer(handler) : createHttpsServer(tls, handler);
  server.on('connection', (socket: Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  cleanups.push(close);
  return { url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`, requests, sockets, close };
}

function respond(status: number, body = '', headers: Record<string, string> = {}): Reply {
  return (_request, response) => {
    response.writeHead(status, headers);
    response.end(body);
  };
}

function newClient(options: ConstructorParameters<typeof HttpWebhookClient>[0] = {}): {
  client: HttpWebhookClient;
  sleeps: number[];
} {
  const sleeps: number[] = [];
  const client = new HttpWebhookClient({
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...options,
  });
  cleanups.push(() => client.close());
  return { client, sleeps };
}

const hook = (url: string, fields: Partial<CanaryWebhook> = {}): CanaryWebhook => ({
  name: 'gate',
  url,
  ...fields,
});

const payload: WebhookPayload = { name: 'podinfo', namespace: 'test', phase: 'Progressing', checksum: 'abc' };

const canary: Canary = {
  apiVersion: 'flagger.app/v1beta1',
  kind: 'Canary',
  metadata: { name: 'podinfo', namespace: 'test' },
  spec: {
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
    service: { port: 9898 },
    analysis: { interval: '1m', threshold: 5, stepWeight: 10 },
  },
  status: {
    phase: 'Progressing',
    lastAppliedSpec: '6d6c8f7b9',
    trackedConfigs: {
      'configmap/podinfo-config': '0123456789abcdef',
      'secret/podinfo-token': 'fedcba9876543210',
    },
  },
};

describe('the request', () => {
  // Expected bodies are written out by hand from Go's json.Marshal rules, not produced by the encoder.
  const HEAD = '{"name":"podinfo","namespace":"test"';
  const SUM = '"checksum":"2e38e94e"';
  it.each([
    ['confirm-rollout', webhookPayload(canary, 'Waiting', {}), `${HEAD},"phase":"Waiting",${SUM}}`],
    [
      'pre-rollout',
      webhookPayload(canary, 'Progressing', {
        metadata: { type: 'bash', cmd: "curl -sd 'test' http://podinfo-canary:9898/token | grep token" },
      }),
      `${HEAD},"phase":"Progressing",${SUM},"metadata":{"cmd":"curl -sd 'test' http://podinfo-canary:9898/token | grep token","type":"bash"}}`,
    ],
    [
      'rollout',
      webhookPayload(canary, 'Progressing', { metadata: { cmd: 'hey -z 1m http://podinfo-canary.test/' } }),
      `${HEAD},"phase":"Progressing",${SUM},"metadata":{"cmd":"hey -z 1m http://podinfo-canary.test/"}}`,
    ],
    [
      'confirm-traffic-increase',
      webhookPayload(canary, 'Progressing', {}),
      `${HEAD},"phase":"Progressing",${SUM}}`,
    ],
    [
      'confirm-promotion',
      webhookPayload(canary, 'Progressing', { metadata: {} }),
      `${HEAD},"phase":"Progressing",${SUM}}`,
    ],
    [
      'post-rollout',
      webhookPayload(canary, 'Succeeded', { metadata: { cmd: 'curl -s http://notifier/done' } }),
      `${HEAD},"phase":"Succeeded",${SUM},"metadata":{"cmd":"curl -s http://notifier/done"}}`,
    ],
    ['rollback', webhookPayload(canary, 'Progressing', {}), `${HEAD},"phase":"Progressing",${SUM}}`],
    [
      'event',
      eventWebhookPayload(
        canary,
        { metadata: { eventType: 'Normal', cluster: 'eu-1' } },
        {
          type: 'Warning',
          message: 'Rolling back podinfo.test failed checks threshold reached 5',
          time: new Date(1_700_000_000_123),
        },
      ),
      `${HEAD},"phase":"Progressing",${SUM},"metadata":{"cluster":"eu-1","eventMessage":"Rolling back podinfo.test failed checks threshold reached 5","eventType":"Warning","timestamp":"1700000000123"}}`,
    ],
  ])('for a %s hook is a JSON POST byte-identical to Flagger', async (type, hookPayload, expected) => {
    const server = await startServer(respond(200));
    const { client } = newClient();
    const result = await client.call(
      hook(`${server.url}/gate/check?x=1`, { type: type as never }),
      hookPayload,
      {},
    );
    expect(result).toEqual({ ok: true, status: 200, body: '', attempts: 1 });
    expect(server.requests).toHaveLength(1);
    const [received] = server.requests;
    expect(received!.method).toBe('POST');
    expect(received!.url).toBe('/gate/check?x=1');
    expect(received!.headers['content-type']).toBe('application/json');
    expect(received!.body.equals(Buffer.from(expected, 'utf8'))).toBe(true);
    expect(received!.body.toString('utf8')).toBe(expected);
  });

  it('escapes <, > and & as Go does', async () => {
    const server = await startServer(respond(202));
    const { client } = newClient();
    const metadata = { cmd: 'hey -z 1m "http://podinfo-canary.test/?a=1&b=<2>"' };
    await client.call(hook(server.url), { ...payload, metadata }, {});
    expect(server.requests[0]!.body.toString('utf8')).toBe(
      '{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"abc",' +
        String.raw`"metadata":{"cmd":"hey -z 1m \"http://podinfo-canary.test/?a=1\u0026b=\u003c2\u003e\""}}`,
    );
  });

  it('carries the Secret headers and keeps its own Content-Type', async () => {
    const server = await startServer(respond(200));
    const { client } = newClient();
    const headers = headersFromSecret({
      Authorization: 'Bearer s3cr3t-token-value\n',
      'X-Api-Key': 'abc123def',
    });
    await client.call(hook(server.url), payload, headers);
    expect(server.requests[0]!.headers).toMatchObject({
      authorization: 'Bearer s3cr3t-token-value',
      'x-api-key': 'abc123def',
      'content-type': 'application/json',
    });
  });

  it('says who calls: User-Agent Vireo/<version>, unless the Secret sets one', async () => {
    const server = await startServer(respond(200));
    const { client } = newClient();
    await client.call(hook(server.url), payload, {});
    expect(server.requests[0]!.headers['user-agent']).toBe(`Vireo/${VERSION}`);
    await client.call(hook(server.url), payload, headersFromSecret({ 'User-Agent': 'our-gateway/2' }));
    expect(server.requests[1]!.headers['user-agent']).toBe('our-gateway/2');
  });

  it('sends URL user info as Basic auth, as Go does', async () => {
    const server = await startServer(respond(200));
    const { client } = newClient();
    await client.call(hook(server.url.replace('//', '//flagger:hunter2pass@')), payload, {});
    const expected = `Basic ${Buffer.from('flagger:hunter2pass').toString('base64')}`;
    expect(server.requests[0]!.headers.authorization).toBe(expected);
  });

  it('follows a 307 with the same POST and a 302 with a GET, as Go does', async () => {
    const server = await startServer((request, response) => {
      if (request.url === '/307') response.writeHead(307, { location: '/after-307' }).end();
      else if (request.url === '/302') response.writeHead(302, { location: '/after-302' }).end();
      else response.writeHead(200).end('landed');
    });
    const { client } = newClient();
    expect((await client.call(hook(`${server.url}/307`), payload, {})).body).toBe('landed');
    expect((await client.call(hook(`${server.url}/302`), payload, {})).ok).toBe(true);
    const [, afterPost, , afterGet] = server.requests;
    expect(afterPost).toMatchObject({ method: 'POST', url: '/after-307' });
    expect(afterPost!.body.toString()).toContain('"name":"podinfo"');
    expect(afterGet).toMatchObject({ method: 'GET', url: '/after-302' });
  });
});

describe('redirects to another origin', () => {
  const secretHeaders = (): Record<string, string> =>
    headersFromSecret({ Authorization: 'Bearer tok-123456789', 'X-Api-Key': 'key-abcdefgh' });

  it('keep the Secret headers on the same origin', async () => {
    const server = await startServer((request, response) => {
      if (request.url === '/old') response.writeHead(307, { location: '/new' }).end();
      else response.writeHead(200).end();
    });
    const { client } = newClient();
    expect((await client.call(hook(`${server.url}/old`), payload, secretHeaders())).ok).toBe(true);
    expect(server.requests[1]).toMatchObject({ method: 'POST', url: '/new' });
    expect(server.requests[1]!.headers).toMatchObject({
      authorization: 'Bearer tok-123456789',
      'x-api-key': 'key-abcdefgh',
    });
  });

  it('drop every Secret header and the URL credentials when a 302 leads elsewhere, and send no body', async () => {
    const other = await startServer(respond(200, 'elsewhere'));
    // 127.0.0.1 and localhost are different origins, as two hosts would be.
    const elsewhere = other.url.replace('127.0.0.1', 'localhost');
    const server = await startServer(respond(302, '', { location: `${elsewhere}/landing` }));
    const { client } = newClient();
    const url = server.url.replace('//', '//flagger:hunter2pass@');
    const result = await client.call(hook(url), payload, secretHeaders());
    expect(result).toMatchObject({ ok: true, body: 'elsewhere' });
    const [received] = other.requests;
    expect(received).toMatchObject({ method: 'GET', url: '/landing' });
    expect(received!.body.length).toBe(0);
    expect(received!.headers['authorization']).toBeUndefined();
    expect(received!.headers['x-api-key']).toBeUndefined();
    expect(received!.headers['content-type']).toBeUndefined();
  });

  it.each([307, 308])(
    'are not followed for a %i, so the POST body never goes there, and the hook fails saying why',
    async (status) => {
      const other = await startServer(respond(200));
      const elsewhere = other.url.replace('127.0.0.1', 'localhost');
      const server = await startServer(respond(status, '', { location: `${elsewhere}/steal` }));
      const { client } = newClient();
      const result = await client.call(hook(server.url), payload, secretHeaders());
      expect(result.ok).toBe(false);
      expect(result.status).toBe(status);
      expect(result.body).toContain(`to another origin ${elsewhere} not followed`);
      expect(other.requests).toHaveLength(0);
    },
  );

  it('stop after 10 redirects, as Go does, without retrying', async () => {
    const server = await startServer((request, response) => {
      response.writeHead(302, { location: `/loop${server.requests.length}` }).end();
    });
    const { client, sleeps } = newClient();
    const result = await client.call(hook(server.url, { retries: 3 }), payload, {});
    expect(result.ok).toBe(false);
    expect(result.body).toMatch(/stopped after 10 redirects$/);
    expect(server.requests).toHaveLength(11);
    expect(sleeps).toEqual([]);
  });
});

describe('the verdict', () => {
  it.each([200, 201, 202])('%i is a success', async (status) => {
    const server = await startServer(respond(status, 'Approved'));
    const { client, sleeps } = newClient();
    expect(await client.call(hook(server.url, { retries: 2 }), payload, {})).toEqual({
      ok: true,
      status,
      body: 'Approved',
      attempts: 1,
    });
    expect(sleeps).toEqual([]);
  });

  it.each([
    [203, 'partial'],
    [204, ''],
    [400, 'metadata not found in payload'],
    [403, 'Forbidden'],
    [404, 'not found'],
  ])('%i is a failure, with the response body as the error text and no retry', async (status, body) => {
    const server = await startServer(respond(status, body));
    const { client, sleeps } = newClient();
    expect(await client.call(hook(server.url, { retries: 3 }), payload, {})).toEqual({
      ok: false,
      status,
      body,
      attempts: 1,
    });
    expect(server.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('501 is a failure that is not retried', async () => {
    const server = await startServer(respond(501, 'not implemented here'));
    const { client, sleeps } = newClient();
    const result = await client.call(hook(server.url, { retries: 3 }), payload, {});
    expect(result).toEqual({ ok: false, status: 501, body: 'not implemented here', attempts: 1 });
    expect(sleeps).toEqual([]);
  });

  it('returns at most the first 64 KiB of the body and stays usable', async () => {
    const big = 'x'.repeat(100 * 1024);
    const server = await startServer((_request, response, index) => {
      response.writeHead(index === 0 ? 400 : 200).end(index === 0 ? big : 'small');
    });
    const { client } = newClient();
    const first = await client.call(hook(server.url), payload, {});
    expect(first.ok).toBe(false);
    expect(first.body).toBe('x'.repeat(64 * 1024));
    expect(await client.call(hook(server.url), payload, {})).toMatchObject({ ok: true, body: 'small' });
  });
});

describe('retries', () => {
  it.each([
    [500, 'Internal Server Error'],
    [502, 'Bad Gateway'],
    [503, 'Service Unavailable'],
    [429, 'Too Many Requests'],
  ])(
    '%i is retried `retries` times with 1 s, 2 s… waits, then gives up as Flagger does',
    async (status, reason) => {
      const server = await startServer(respond(status, 'busy'));
      const { client, sleeps } = newClient();
      const result = await client.call(hook(`${server.url}/hook`, { retries: 2 }), payload, {});
      expect(server.requests).toHaveLength(3);
      expect(sleeps).toEqual([1000, 2000]);
      expect(result).toEqual({
        ok: false,
        status,
        body: `POST ${server.url}/hook giving up after 3 attempt(s): unexpected HTTP status ${status} ${reason}: busy`,
        attempts: 3,
      });
    },
  );

  it('with retries 0 makes one attempt and still reports giving up, as go-retryablehttp does', async () => {
    const server = await startServer(respond(500, 'boom'));
    const { client, sleeps } = newClient();
    const result = await client.call(hook(`${server.url}/`), payload, {});
    expect(result.attempts).toBe(1);
    expect(result.body).toBe(
      `POST ${server.url}/ giving up after 1 attempt(s): unexpected HTTP status 500 Internal Server Error: boom`,
    );
    expect(sleeps).toEqual([]);
  });

  it('stops at the first success', async () => {
    const server = await startServer((_request, response, index) => {
      response.writeHead(index < 2 ? 503 : 200).end(index < 2 ? 'warming up' : 'ok');
    });
    const { client, sleeps } = newClient();
    const result = await client.call(hook(server.url, { retries: 5 }), payload, {});
    expect(result).toEqual({ ok: true, status: 200, body: 'ok', attempts: 3 });
    expect(sleeps).toEqual([1000, 2000]);
  });

  it('doubles the wait up to 30 s', async () => {
    const server = await startServer(respond(500));
    const { client, sleeps } = newClient();
    const result = await client.call(hook(server.url, { retries: 7 }), payload, {});
    expect(sleeps).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(result.attempts).toBe(8);
    expect(result.body).toContain(
      'giving up after 8 attempt(s): unexpected HTTP status 500 Internal Server Error',
    );
  });

  it.each([
    ['429 with Retry-After seconds', 429, '3', 3000],
    ['503 with a long Retry-After, capped', 503, '120', 30000],
    ['429 with an HTTP date', 429, 'Tue, 14 Nov 2023 22:13:25 GMT', 5000],
    ['500, which ignores Retry-After', 500, '3', 1000],
    ['429 with an unreadable Retry-After', 429, 'soon', 1000],
  ])('honours Retry-After: %s', async (_case, status, retryAfter, expectedWait) => {
    const server = await startServer(respond(status, '', { 'Retry-After': retryAfter }));
    const now = () => Date.parse('Tue, 14 Nov 2023 22:13:20 GMT');
    const { client, sleeps } = newClient({ now });
    await client.call(hook(server.url, { retries: 1 }), payload, {});
    expect(sleeps).toEqual([expectedWait]);
  });

  it('retries a refused connection, and says so', async () => {
    const closed = await startServer(respond(200));
    await closed.close();
    const { client, sleeps } = newClient();
    const result = await client.call(hook(`${closed.url}/hook`, { retries: 2 }), payload, {});
    expect(result.ok).toBe(false);
    expect(result.status).toBe(0);
    expect(result.attempts).toBe(3);
    expect(sleeps).toEqual([1000, 2000]);
    expect(result.body).toBe(
      `POST ${closed.url}/hook giving up after 3 attempt(s): Post "${closed.url}/hook": connect ECONNREFUSED ${closed.url.slice('http://'.length)}`,
    );
  });
});

describe('the timeout', () => {
  it('applies to each attempt', async () => {
    const server = await startServer(() => undefined);
    const { client, sleeps } = newClient();
    const started = Date.now();
    const result = await client.call(hook(server.url, { timeout: '100ms', retries: 1 }), payload, {});
    const elapsed = Date.now() - started;
    expect(server.requests).toHaveLength(2);
    expect(sleeps).toEqual([1000]);
    expect(result).toMatchObject({ ok: false, status: 0, attempts: 2 });
    expect(result.body).toBe(
      `POST ${server.url}/ giving up after 2 attempt(s): Post "${server.url}/": timeout: no response within 100ms`,
    );
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(5000);
  });

  it('covers reading the body: a 200 whose body never ends fails, as in Flagger', async () => {
    const server = await startServer((_request, response) => {
      response.writeHead(200, { 'content-length': '100' });
      response.write('partial');
    });
    const { client, sleeps } = newClient();
    const result = await client.call(hook(server.url, { timeout: '100ms', retries: 3 }), payload, {});
    expect(result).toEqual({
      ok: false,
      status: 200,
      body: 'error reading body: timeout: no response within 100ms',
      attempts: 1,
    });
    expect(sleeps).toEqual([]);
  });

  it.each([
    [undefined, 10_000],
    ['100ms', 100],
    ['1m30s', 90_000],
    ['ten seconds', 10_000],
    ['0s', 10_000],
    ['-5s', 10_000],
    ['10000h', 2 ** 31 - 1],
  ])('of %j is %i ms', (timeout, expected) => {
    expect(attemptTimeoutMs(timeout)).toBe(expected);
  });
});

describe('secrets', () => {
  it('never appear in results, even when the hook echoes them', async () => {
    const server = await startServer((request, response) => {
      response.writeHead(500).end(`rejected ${String(request.headers.authorization)}`);
    });
    const { client } = newClient();
    const headers = headersFromSecret({ Authorization: 'Bearer s3cr3t-token-value' });
    const result = await client.call(hook(server.url), payload, headers);
    expect(result.body).toContain('rejected [redacted]');
    expect(result.body).not.toContain('s3cr3t-token-value');
  });

  it('never appear in the text of a header the client refuses', async () => {
    const server = await startServer(respond(200));
    const { client } = newClient();
    const result = await client.call(hook(server.url), payload, { 'X-Token': 'tok3n-value\r\nX-Evil: 1' });
    expect(result).toMatchObject({ ok: false, status: 0, attempts: 0 });
    expect(result.body).toContain('"X-Token"');
    expect(result.body).not.toContain('tok3n-value');
    expect(server.requests).toHaveLength(0);
  });

  it('mask the URL password in error texts', async () => {
    const server = await startServer(respond(503, 'down'));
    const { client } = newClient();
    const url = `${server.url.replace('//', '//flagger:hunter2pass@')}/hook`;
    const result = await client.call(hook(url), payload, {});
    expect(result.body).toMatch(
      /^POST http:\/\/flagger:xxxxx@127\.0\.0\.1:\d+\/hook giving up after 1 attempt\(s\)/,
    );
    expect(result.body).not.toContain('hunter2pass');
  });
});

describe('call never throws', () => {
  it.each([
    ['an unparseable URL', 'not a url', 'parse "not a url": invalid URL'],
    [
      'a scheme other than HTTP',
      'ftp://127.0.0.1/hook',
      'Post "ftp://127.0.0.1/hook": unsupported protocol scheme "ftp"',
    ],
  ])('on %s', async (_case, url, body) => {
    const { client } = newClient();
    expect(await client.call(hook(url), payload, {})).toEqual({ ok: false, status: 0, body, attempts: 0 });
  });

  it('when something unexpected fails between attempts', async () => {
    const server = await startServer(respond(500));
    const client = new HttpWebhookClient({ sleep: () => Promise.reject(new Error('clock broke')) });
    cleanups.push(() => client.close());
    const result = await client.call(hook(server.url, { name: 'load-test', retries: 2 }), payload, {});
    expect(result).toEqual({ ok: false, status: 0, body: 'webhook load-test: clock broke', attempts: 1 });
  });
});

describe('connections', () => {
  it('are kept alive and reused across calls and retries (bodies are consumed)', async () => {
    const server = await startServer((_request, response, index) => {
      response.writeHead(index < 2 ? 500 : 200).end('some body to consume');
    });
    const { client } = newClient();
    await client.call(hook(server.url, { retries: 2 }), payload, {});
    await client.call(hook(server.url), payload, {});
    await client.call(hook(server.url), payload, {});
    expect(server.requests).toHaveLength(5);
    // undici may open a second socket when the next request leaves before the first socket is
    // back in the pool; without consumed bodies there would be one socket per request, closed.
    expect(server.sockets.length).toBeLessThanOrEqual(2);
    expect(server.sockets.every((socket) => !socket.destroyed)).toBe(true);
  });

  it('are released by close(), and a closed client opens new ones when called again', async () => {
    const server = await startServer(respond(200));
    const { client } = newClient();
    await client.call(hook(server.url), payload, {});
    const [socket] = server.sockets;
    const socketClosed = new Promise<void>((resolve) => socket!.once('close', () => resolve()));
    await client.close();
    await socketClosed;
    expect(socket!.destroyed).toBe(true);
    expect((await client.call(hook(server.url), payload, {})).ok).toBe(true);
    expect(server.sockets).toHaveLength(2);
  });

  it('use an injected agent, which close() leaves to its owner', async () => {
    const server = await startServer(respond(200));
    const agent = new Agent();
    cleanups.push(() => agent.close());
    const { client } = newClient({ agent });
    await client.call(hook(server.url), payload, {});
    await client.close();
    expect(agent.closed).toBe(false);
    expect(server.sockets[0]!.destroyed).toBe(false);
  });
});

const opensslAvailable = spawnSync('openssl', ['version']).status === 0;

describe.skipIf(!opensslAvailable)('disableTLS against a self-signed certificate', () => {
  const tls = { key: Buffer.alloc(0), cert: Buffer.alloc(0) };
  let directory = '';

  beforeAll(() => {
    directory = mkdtempSync(join(tmpdir(), 'vireo-webhook-tls-'));
    const [key, cert] = [join(directory, 'key.pem'), join(directory, 'cert.pem')];
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1'].concat([
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ]),
      { stdio: 'ignore' },
    );
    tls.key = readFileSync(key);
    tls.cert = readFileSync(cert);
  });
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('skips verification for that hook', async () => {
    const server = await startServer(respond(200, 'secure ok'), tls);
    const { client } = newClient();
    const result = await client.call(hook(server.url, { disableTLS: true }), payload, {});
    expect(result).toEqual({ ok: true, status: 200, body: 'secure ok', attempts: 1 });
    expect(server.requests[0]!.body.toString()).toBe(
      '{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"abc"}',
    );
  });

  it('verifies otherwise, without retrying an untrusted certificate, even after an insecure call', async () => {
    const server = await startServer(respond(200), tls);
    const { client, sleeps } = newClient();
    await client.call(hook(server.url, { disableTLS: true }), payload, {});
    const result = await client.call(hook(server.url, { retries: 3 }), payload, {});
    expect(result).toMatchObject({ ok: false, status: 0, attempts: 1 });
    expect(result.body).toMatch(/^Post "https:\/\/127\.0\.0\.1:\d+\/": self[- ]signed certificate/);
    expect(sleeps).toEqual([]);
    expect(server.requests).toHaveLength(1);
  });

  it('trusts the certificate through an injected agent that knows its CA', async () => {
    const server = await startServer(respond(200, 'trusted'), tls);
    const agent = new Agent({ connect: { ca: tls.cert } });
    cleanups.push(() => agent.close());
    const { client } = newClient({ agent });
    expect(await client.call(hook(server.url), payload, {})).toMatchObject({ ok: true, body: 'trusted' });
  });
});
