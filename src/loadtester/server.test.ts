import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../shared/logger.js';
import { createSystemClock } from './clock.js';
import type { LoadReport } from './load.js';
import type { LoadtesterSettings } from './options.js';
import { buildLoadtester } from './server.js';
import { parseTargetPattern } from './targets.js';

/** The targets in these tests are servers on this machine, which must be named to be reached. */
const LOOPBACK_TARGETS = { patterns: [parseTargetPattern('127.0.0.1')] };

const clock = createSystemClock();
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

function temporaryDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'vireo-loadtester-'));
}

/** The loadtester in-process on 127.0.0.1 and a free port, logging into memory. */
async function startLoadtester(settings: Partial<LoadtesterSettings> = {}) {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => lines.push(line) } });
  const stateFile = settings.stateFile ?? join(temporaryDirectory(), 'gates.json');
  const app = await buildLoadtester({
    settings: { targets: LOOPBACK_TARGETS, ...settings, stateFile },
    logger,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => (closed ??= app.close());
  cleanups.push(close);
  return {
    base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    stateFile,
    close,
    logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    logText: () => lines.join(''),
  };
}

/** A local HTTP target that counts requests: /fail answers 503, anything else 200. */
async function startTarget() {
  let count = 0;
  const server: Server = createServer((incoming, response) => {
    count += 1;
    response.statusCode = incoming.url === '/fail' ? 503 : 200;
    response.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, count: () => count };
}

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

async function call(
  base: string,
  path: string,
  body?: unknown,
  options: { token?: string; method?: 'GET' | 'POST'; authorization?: string } = {},
): Promise<Answer> {
  const authorization =
    options.authorization ?? (options.token === undefined ? undefined : `Bearer ${options.token}`);
  const response = await request(`${base}${path}`, {
    method: options.method ?? 'POST',
    headers: {
      'content-type': 'application/json',
      ...(authorization === undefined ? {} : { authorization }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: response.statusCode, text: await response.body.text(), headers: response.headers };
}

function task(metadata: Record<string, string>, namespace = 'test') {
  return { name: 'podinfo', namespace, phase: 'Progressing', checksum: 'abc', metadata };
}

async function eventually(check: () => boolean, ms = 30_000): Promise<void> {
  const until = clock.monotonic() + ms;
  while (!check()) {
    if (clock.monotonic() > until) throw new Error(`condition not met within ${ms}ms`);
    await clock.sleep(25);
  }
}

describe('POST / with cmd tasks', () => {
  it('runs a real hey in the background, answers 202 at once, and skips a duplicate while it runs', async () => {
    const target = await startTarget();
    const { base, logs } = await startLoadtester();
    // Long enough to be running still when the duplicate arrives, on any machine; shutdown ends it.
    const cmd = `hey -z 60s -q 5 -c 1 ${target.url}/`;
    const first = await call(base, '/', task({ cmd }));
    expect(first).toMatchObject({ status: 202, text: 'command started for podinfo.test' });
    const duplicate = await call(base, '/', task({ type: 'cmd', cmd }));
    expect(duplicate).toMatchObject({
      status: 202,
      text: 'command skipped for podinfo.test: already running',
    });

    await eventually(() => target.count() > 0);
    expect(logs().some((entry) => entry['msg'] === 'command finished')).toBe(false);
    expect(logs().filter((entry) => entry['msg'] === 'command starting')).toHaveLength(1);
  });

  it('logs the output of a background command with logCmdOutput "true"', async () => {
    const target = await startTarget();
    const { base, logs } = await startLoadtester();
    const answer = await call(base, '/', task({ cmd: `hey -n 2 -c 1 ${target.url}/`, logCmdOutput: 'true' }));
    expect(answer.status).toBe(202);
    await eventually(() => logs().some((entry) => entry['msg'] === 'command finished'));
    const finished = logs().find((entry) => entry['msg'] === 'command finished')!;
    expect(finished).toMatchObject({ canary: 'podinfo.test', type: 'cmd', exitCode: 0 });
    expect(finished['output']).toContain('Summary:');
    expect(target.count()).toBe(2);
  });

  it('waits for a cmd with wait "true" and returns its output with returnCmdOutput "true"', async () => {
    const target = await startTarget();
    const { base } = await startLoadtester();
    const answer = await call(
      base,
      '/',
      task({ cmd: `hey -n 5 -c 1 ${target.url}/`, wait: 'true', returnCmdOutput: 'true' }),
    );
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('[200]\t5 responses');
    expect(target.count()).toBe(5);
  });

  it('answers 500 with the error and the output when a blocking command fails', async () => {
    const { base } = await startLoadtester();
    const answer = await call(base, '/', task({ cmd: 'curl -sS http://127.0.0.1:1/', wait: 'true' }));
    expect(answer).toMatchObject({
      status: 500,
      text: expect.stringMatching(/^command failed: request to 127\.0\.0\.1:1 failed: connect ECONNREFUSED/),
    });
  });

  it('kills a command at metadata.timeout, which may only shorten --timeout', async () => {
    const target = await startTarget();
    const { base } = await startLoadtester({ commandTimeoutMs: 60_000 });
    const answer = await call(
      base,
      '/',
      task({ cmd: `hey -z 20s -q 2 -c 1 ${target.url}/`, wait: 'true', timeout: '500ms' }),
    );
    expect(answer).toMatchObject({ status: 500, text: 'command failed: killed after the 500ms timeout' });
    const invalid = await call(base, '/', task({ cmd: 'hey http://h/', timeout: 'soon' }));
    expect(invalid).toMatchObject({
      status: 400,
      text: expect.stringContaining('metadata.timeout must be a Go duration'),
    });
  });
});

describe('shells and programs outside the allow-list', () => {
  it('refuses bash tasks and helm or kubectl subcommands outside the allow-list', async () => {
    const { base } = await startLoadtester();
    expect(await call(base, '/', task({ type: 'bash', cmd: 'echo hi' }))).toMatchObject({
      status: 403,
      text: expect.stringContaining('bash tasks run a shell, which the loadtester does not do'),
    });
    const helm = await call(base, '/', task({ type: 'helm', cmd: 'uninstall podinfo -n test' }));
    expect(helm).toMatchObject({
      status: 403,
      text: expect.stringMatching(/^"helm uninstall" is not allowed; allowed: /),
    });
    const kubectl = await call(base, '/', task({ type: 'kubectl', cmd: 'delete namespace test' }));
    expect(kubectl).toMatchObject({
      status: 403,
      text: expect.stringContaining('"kubectl" is not allowed'),
    });
  });

  it('runs an allowed helm subcommand (here helm is not installed, so it fails with 500)', async () => {
    const { base } = await startLoadtester();
    const answer = await call(base, '/', task({ type: 'helmv3', cmd: 'test podinfo -n test' }));
    expect(answer).toMatchObject({ status: 500, text: 'command failed: helmv3: command not found' });
  });

  it('runs bash and sh -c with --allow-any-command, exactly as flagger-loadtester', async () => {
    const { base } = await startLoadtester({ policy: { allowAnyCommand: true, allowed: [] } });
    expect(
      await call(base, '/', task({ type: 'bash', cmd: 'echo hi', returnCmdOutput: 'true' })),
    ).toMatchObject({
      status: 200,
      text: 'hi\n',
    });
    expect(await call(base, '/', task({ type: 'bash', cmd: 'echo oops; exit 3' }))).toMatchObject({
      status: 500,
      text: 'command failed: exit status 3\noops\n',
    });
    const shell = await call(
      base,
      '/',
      task({ cmd: 'echo a && echo b | tr b c', wait: 'true', returnCmdOutput: 'true' }),
    );
    expect(shell).toMatchObject({ status: 200, text: 'a\nc\n' });
  });

  describe('injection attempts are refused and never run', () => {
    const marker = join(temporaryDirectory(), 'pwned');
    const unreachable = 'http://127.0.0.1:1/';
    it.each([
      [`hey -n 1 ${unreachable}; touch ${marker}`, 400, "';' (command separator)"],
      [`hey -n 1 ${unreachable} && touch ${marker}`, 400, "'&&' (and-list)"],
      [`hey -n 1 ${unreachable} || touch ${marker}`, 400, "'||' (or-list)"],
      [`hey -n 1 ${unreachable} | touch ${marker}`, 400, "'|' (pipe)"],
      [`hey -n 1 ${unreachable} & touch ${marker}`, 400, "'&' (background job)"],
      [`hey -n 1 http://127.0.0.1:1/$(touch ${marker})`, 400, "'$(…)' (command substitution)"],
      [`hey -n 1 http://127.0.0.1:1/\`touch ${marker}\``, 400, 'backticks'],
      [`hey -n 1 ${unreachable} > ${marker}`, 400, "'>' (output redirection)"],
      [`hey -n 1 ${unreachable}\ntouch ${marker}`, 400, 'a newline'],
      [`hey -n 1 http://$HOSTNAME/`, 400, "'$HOSTNAME' (variable expansion)"],
      [`touch ${marker}`, 403, '"touch" is not allowed'],
      [`rm -rf ${marker}`, 403, '"rm" is not allowed'],
      [`python3 -c "open('${marker}', 'w')"`, 403, '"python3" is not allowed'],
      [`/bin/sh -c "touch ${marker}"`, 403, '"/bin/sh" is not allowed'],
      [`sh -c "touch ${marker}"`, 403, '"sh" is not allowed'],
      [`curl -sS -o ${marker} ${unreachable}`, 400, 'curl option -o accepts only /dev/null'],
    ])('%j → %i', async (cmd, status, reason) => {
      const { base } = await startLoadtester();
      for (const metadata of [{ cmd }, { cmd, wait: 'true' }] as Record<string, string>[]) {
        const answer = await call(base, '/', task(metadata));
        expect(answer.status).toBe(status);
        expect(answer.text).toContain(reason);
        expect(answer.text).not.toContain('\n');
      }
      await clock.sleep(200);
      expect(existsSync(marker)).toBe(false);
    });
  });
});

describe('authentication', () => {
  const token = 'the-loadtester-token-4f9c';

  it('requires the bearer token on every route but GET /healthz, and never logs it', async () => {
    const { base, logText } = await startLoadtester({ token });
    const gate = { name: 'podinfo', namespace: 'test' };
    const missing = await call(base, '/gate/check', gate);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(missing.text).toBe('unauthorized: send the header Authorization: Bearer <token>');
    expect((await call(base, '/gate/check', gate, { token: 'wrong' })).status).toBe(401);
    expect((await call(base, '/gate/check', gate, { authorization: token })).status).toBe(401);
    expect((await call(base, '/gate/approve', gate)).status).toBe(401);
    expect((await call(base, '/', task({ cmd: 'hey http://h/' }))).status).toBe(401);
    expect((await call(base, '/metrics', undefined, { method: 'GET' })).status).toBe(401);

    expect(await call(base, '/gate/check', gate, { token })).toMatchObject({ status: 403, text: 'closed' });
    expect((await call(base, '/gate/check', gate, { authorization: `bearer ${token}` })).status).toBe(403);
    expect(await call(base, '/healthz', undefined, { method: 'GET' })).toMatchObject({
      status: 200,
      text: 'OK',
    });
    const metrics = await call(base, '/metrics', undefined, { method: 'GET', token });
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('vireo_loadtester_rejections_total{status="401"} 6');

    expect(logText()).not.toContain(token);
  });
});

describe('gates', () => {
  const podinfo = { name: 'podinfo', namespace: 'test', phase: 'Progressing', checksum: '' };

  it('are closed by default, open with 202, and close again', async () => {
    const { base } = await startLoadtester();
    expect(await call(base, '/gate/check', podinfo)).toMatchObject({ status: 403, text: 'closed' });
    expect(await call(base, '/gate/open', podinfo)).toMatchObject({
      status: 202,
      text: 'gate podinfo.test opened',
    });
    expect(await call(base, '/gate/check', podinfo)).toMatchObject({ status: 200, text: 'approved' });
    expect(await call(base, '/gate/check', { ...podinfo, name: 'other' })).toMatchObject({ status: 403 });
    expect(await call(base, '/gate/close', podinfo)).toMatchObject({
      status: 202,
      text: 'gate podinfo.test closed',
    });
    expect(await call(base, '/gate/check', podinfo)).toMatchObject({ status: 403, text: 'closed' });
  });

  it('approve always answers 200 and halt always 403, whatever the body', async () => {
    const { base } = await startLoadtester({ namespacePattern: /^test$/ });
    expect(await call(base, '/gate/approve', podinfo)).toMatchObject({ status: 200, text: 'approved' });
    expect(await call(base, '/gate/approve', 'not json')).toMatchObject({ status: 200 });
    expect(await call(base, '/gate/approve', { ...podinfo, namespace: 'prod' })).toMatchObject({
      status: 200,
    });
    expect(await call(base, '/gate/halt', podinfo)).toMatchObject({ status: 403, text: 'halted' });
  });

  it('keep the rollback gate apart from the confirm gate', async () => {
    const { base } = await startLoadtester();
    expect((await call(base, '/rollback/check', podinfo)).status).toBe(403);
    expect((await call(base, '/rollback/open', podinfo)).status).toBe(202);
    expect(await call(base, '/rollback/check', podinfo)).toMatchObject({ status: 200 });
    expect((await call(base, '/gate/check', podinfo)).status).toBe(403);
    expect((await call(base, '/rollback/close', podinfo)).status).toBe(202);
    expect((await call(base, '/rollback/check', podinfo)).status).toBe(403);
  });

  it('survive a restart on the same state file', async () => {
    const first = await startLoadtester();
    await call(first.base, '/gate/open', podinfo);
    await call(first.base, '/rollback/open', { ...podinfo, name: 'backend' });
    await first.close();

    const second = await startLoadtester({ stateFile: first.stateFile });
    expect((await call(second.base, '/gate/check', podinfo)).status).toBe(200);
    expect((await call(second.base, '/rollback/check', { ...podinfo, name: 'backend' })).status).toBe(200);
    expect((await call(second.base, '/rollback/check', podinfo)).status).toBe(403);
  });

  it('start closed, with a warning, from a damaged state file', async () => {
    const stateFile = join(temporaryDirectory(), 'gates.json');
    writeFileSync(stateFile, '{"version":1,"open":["podinfo.te');
    const { base, logs } = await startLoadtester({ stateFile });
    expect((await call(base, '/gate/check', podinfo)).status).toBe(403);
    expect(logs().some((entry) => entry['level'] === 'warn' && entry['stateFile'] === stateFile)).toBe(true);
    expect((await call(base, '/gate/open', podinfo)).status).toBe(202);
    expect((await call(base, '/gate/check', podinfo)).status).toBe(200);
  });
});

describe('limits and validation', () => {
  it('answers 413 to a body over the limit', async () => {
    const { base } = await startLoadtester({ bodyLimitBytes: 1_024 });
    const answer = await call(base, '/', task({ cmd: `hey ${'x'.repeat(2_000)}` }));
    expect(answer).toMatchObject({ status: 413, text: 'the body is larger than the 1024-byte limit' });
  });

  it('answers 429 beyond --max-concurrent, and still 202 to a duplicate of a running command', async () => {
    const target = await startTarget();
    const { base } = await startLoadtester({ maxConcurrent: 1 });
    const cmd = `hey -z 5s -q 2 -c 1 ${target.url}/`;
    expect((await call(base, '/', task({ cmd }))).status).toBe(202);
    const other = await call(base, '/', task({ cmd: `hey -n 1 ${target.url}/`, wait: 'true' }));
    expect(other).toMatchObject({ status: 429, text: 'too many commands running (limit 1); retry later' });
    expect(other.headers['x-vireo-error-code']).toBe('E_LOADTESTER_BUSY');
    const load = await call(base, '/', task({ type: 'load', url: `${target.url}/`, duration: '1s' }));
    expect(load.status).toBe(429);
    expect(await call(base, '/', task({ cmd }))).toMatchObject({
      status: 202,
      text: expect.stringContaining('already running'),
    });
  });

  it('refuses payloads from namespaces outside --namespace-regexp with 403 Forbidden', async () => {
    const { base } = await startLoadtester({ namespacePattern: /^(test|staging)$/ });
    expect(await call(base, '/', task({ cmd: 'hey http://h/' }, 'prod'))).toMatchObject({
      status: 403,
      text: 'Forbidden',
    });
    for (const path of ['/gate/check', '/gate/open', '/rollback/open', '/rollback/check']) {
      expect(await call(base, path, { name: 'podinfo', namespace: 'prod' })).toMatchObject({
        status: 403,
        text: 'Forbidden',
      });
    }
    expect(await call(base, '/gate/check', { name: 'podinfo', namespace: 'staging' })).toMatchObject({
      status: 403,
      text: 'closed',
    });
  });

  it.each([
    [{ namespace: 'test', metadata: { cmd: 'hey' } }, 'invalid payload: name is required'],
    [
      { name: 'podinfo', namespace: 7, metadata: { cmd: 'hey' } },
      'invalid payload: namespace must be a string',
    ],
    [task({ cmd: 'hey', qps: 5 } as never), 'invalid payload: metadata.qps must be a string'],
    [
      { name: 'podinfo', namespace: 'test', metadata: ['hey'] },
      'invalid payload: metadata must be an object or null',
    ],
    ['{"name": "podinfo", ', 'the body is not JSON'],
    [{ name: 'podinfo', namespace: 'test' }, 'metadata not found in payload'],
    [task({}), 'metadata not found in payload'],
    [task({ type: 'concord', server: 'x' }), 'type concord is not supported by vireo loadtester'],
    [task({ type: 'ngrinder', server: 'x' }), 'type ngrinder is not supported by vireo loadtester'],
    [
      task({ type: 'python', cmd: 'x' }),
      'unknown task type "python"; use one of cmd, bash, helm, helmv3, kubectl, load, request',
    ],
  ])('answers 400 to %j', async (body, reason) => {
    const { base } = await startLoadtester();
    const answer = await call(base, '/', body);
    expect(answer.status).toBe(400);
    expect(answer.text).toContain(reason);
    expect(answer.text).not.toContain('\n');
  });
});

describe('type load (the built-in load generator)', () => {
  it('with wait "true", returns a report whose request count matches what the target saw', async () => {
    const target = await startTarget();
    const { base } = await startLoadtester();
    const answer = await call(
      base,
      '/',
      task({
        type: 'load',
        url: `${target.url}/`,
        duration: '1s',
        qps: '20',
        concurrency: '2',
        wait: 'true',
      }),
    );
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toContain('application/json');
    const report = JSON.parse(answer.text) as LoadReport;
    expect(Math.abs(report.requests - target.count())).toBeLessThanOrEqual(1);
    expect(report.requests).toBeGreaterThan(0);
    expect(report.requests).toBeLessThanOrEqual(22);
    expect(report).toMatchObject({ errors: 0, successRate: 100, statusCodes: { '200': report.requests } });
    expect(Object.keys(report.latencyMs)).toEqual(['p50', 'p90', 'p99', 'max']);
  });

  it('counts error statuses', async () => {
    const target = await startTarget();
    const { base } = await startLoadtester();
    const answer = await call(
      base,
      '/',
      task({ type: 'load', url: `${target.url}/fail`, duration: '500ms', qps: '10', wait: 'true' }),
    );
    const report = JSON.parse(answer.text) as LoadReport;
    expect(report.requests).toBeGreaterThan(0);
    expect(report).toMatchObject({
      errors: report.requests,
      successRate: 0,
      statusCodes: { '503': report.requests },
    });
  });

  it('runs in the background by default and logs its report', async () => {
    const target = await startTarget();
    const { base, logs } = await startLoadtester();
    const answer = await call(
      base,
      '/',
      task({ type: 'load', url: `${target.url}/`, duration: '500ms', qps: '10' }),
    );
    expect(answer).toMatchObject({ status: 202, text: 'load test started for podinfo.test' });
    await eventually(() => logs().some((entry) => entry['msg'] === 'load test finished'));
    const finished = logs().find((entry) => entry['msg'] === 'load test finished')!;
    expect((finished['report'] as LoadReport).requests).toBe(target.count());
  });

  it('refuses a load task without a url, naming the field', async () => {
    const { base } = await startLoadtester();
    expect(await call(base, '/', task({ type: 'load', qps: '5' }))).toMatchObject({
      status: 400,
      text: 'metadata.url is required for type load',
    });
  });
});

describe('shutdown', () => {
  it('kills running commands, and answers 503 to a request waiting on one', async () => {
    const target = await startTarget();
    const { base, close } = await startLoadtester();
    expect((await call(base, '/', task({ cmd: `hey -z 30s -q 20 -c 1 ${target.url}/` }))).status).toBe(202);
    const waiting = call(
      base,
      '/',
      task({ cmd: `hey -z 30s -q 5 -c 1 ${target.url}/?blocking`, wait: 'true' }),
    );
    await eventually(() => target.count() > 5);

    await close();
    expect(await waiting).toMatchObject({ status: 503, text: 'the loadtester is shutting down' });
    const after = target.count();
    await clock.sleep(300);
    expect(target.count()).toBe(after);
  });
});

describe('logs', () => {
  it('hide Authorization header values that commands carry', async () => {
    const { base, logText } = await startLoadtester();
    const answer = await call(
      base,
      '/',
      task({ cmd: "curl -sS -H 'Authorization: Bearer s3cr3t-value' http://127.0.0.1:1/", wait: 'true' }),
    );
    expect(answer.status).toBe(500);
    expect(logText()).toContain("'Authorization: [redacted]'");
    expect(logText()).not.toContain('s3cr3t-value');
  });
});

describe('acceptance tests', () => {
  it('runs Flagger’s curl | grep hook with our client: 200 when the answer holds the word, 500 otherwise', async () => {
    const target = await startTarget();
    const { base } = await startLoadtester();
    const passing = await call(
      base,
      '/',
      task({ type: 'bash', cmd: `curl -sd 'test' ${target.url}/token | grep ok`, returnCmdOutput: 'true' }),
    );
    expect(passing).toMatchObject({ status: 200, text: 'ok\n' });
    const failing = await call(
      base,
      '/',
      task({ type: 'bash', cmd: `curl -sd 'test' ${target.url}/token | grep token` }),
    );
    expect(failing).toMatchObject({
      status: 500,
      text: 'command failed: the answer (status 200) does not contain "token"',
    });
    const failed = await call(base, '/', task({ cmd: `curl -sSf ${target.url}/fail`, wait: 'true' }));
    expect(failed).toMatchObject({
      status: 500,
      text: 'command failed: expected status below 400 (curl -f), got 503',
    });
    expect(target.count()).toBe(3);
  });

  it('runs type request: the method, headers, body and expected status and body as data', async () => {
    const target = await startTarget();
    const { base } = await startLoadtester();
    const ok = await call(
      base,
      '/',
      task({
        type: 'request',
        url: `${target.url}/`,
        method: 'POST',
        body: 'x',
        expectStatus: '200',
        expectBody: 'ok',
      }),
    );
    expect(ok).toMatchObject({ status: 200, text: '' });
    const wrong = await call(
      base,
      '/',
      task({ type: 'request', url: `${target.url}/fail`, expectStatus: '2xx,404' }),
    );
    expect(wrong).toMatchObject({
      status: 500,
      text: 'command failed: expected status 2xx or 404, got 503\nok',
    });
    expect(await call(base, '/', task({ type: 'request', url: 'file:///etc/passwd' }))).toMatchObject({
      status: 400,
      text: 'metadata.url must be http or https, got file',
    });
    expect(
      await call(base, '/', task({ type: 'request', url: `${target.url}/`, expectStatus: 'ok' })),
    ).toMatchObject({
      status: 400,
      text: expect.stringContaining('metadata.expectStatus must be statuses or classes'),
    });
  });

  it('never follows a redirect', async () => {
    const server: Server = createServer((_incoming, response) => {
      response.writeHead(302, { location: 'file:///etc/passwd' }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const { base } = await startLoadtester();
    const answer = await call(
      base,
      '/',
      task({
        cmd: `curl -s -w '%{http_code}' http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
        wait: 'true',
        returnCmdOutput: 'true',
      }),
    );
    expect(answer).toMatchObject({ status: 200, text: '302' });
  });
});

describe('targets', () => {
  it('are any host but loopback, link-local and unspecified by default, and what --allow-target names otherwise', async () => {
    const target = await startTarget();
    const { base } = await startLoadtester({ targets: { patterns: [] } });
    for (const metadata of <Record<string, string>[]>[
      { cmd: `hey -n 1 ${target.url}/`, wait: 'true' },
      { cmd: `curl ${target.url}/`, wait: 'true' },
      { type: 'load', url: `${target.url}/`, duration: '100ms', wait: 'true' },
      { type: 'request', url: 'http://169.254.169.254/latest/meta-data/' },
      { type: 'request', url: 'http://localhost:9/' },
      { cmd: 'grpc_health_probe -addr=[::1]:9999', wait: 'true' },
    ]) {
      const answer = await call(base, '/', task(metadata));
      expect(answer).toMatchObject({
        status: 403,
        text: expect.stringContaining('is not an allowed target'),
      });
      expect(answer.headers['x-vireo-error-code']).toBe('E_LOADTESTER_TARGET_NOT_ALLOWED');
    }
    expect(target.count()).toBe(0);

    const named = await startLoadtester({
      targets: { patterns: [parseTargetPattern(`127.0.0.1:${target.url.split(':').at(-1)}`)] },
    });
    expect((await call(named.base, '/', task({ cmd: `curl ${target.url}/`, wait: 'true' }))).status).toBe(
      200,
    );
    expect(
      await call(named.base, '/', task({ cmd: 'curl http://127.0.0.1:9/', wait: 'true' })),
    ).toMatchObject({
      status: 403,
      text: expect.stringContaining(
        `127.0.0.1:9 is not an allowed target; allowed: 127.0.0.1:${target.url.split(':').at(-1)}`,
      ),
    });
  });

  it('also holds for names that resolve to loopback, when our client connects', async () => {
    const target = await startTarget();
    const port = target.url.split(':').at(-1)!;
    const { base } = await startLoadtester({
      targets: { patterns: [parseTargetPattern('*.localhost'), parseTargetPattern('localhost')] },
    });
    // "localhost" is allowed by name but resolves to 127.0.0.1, which no --allow-target names.
    const answer = await call(base, '/', task({ type: 'request', url: `http://localhost:${port}/` }));
    expect(answer.status).toBe(500);
    expect(answer.text).toContain('resolves to 127.0.0.1, which is not an allowed target');
    expect(target.count()).toBe(0);
  });
});

describe('who can send requests', () => {
  it('refuses requests from web pages (an Origin header) and, without a token, to foreign host names', async () => {
    const { base } = await startLoadtester();
    const fromPage = await request(`${base}/gate/open`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'text/plain' },
      body: JSON.stringify({ name: 'podinfo', namespace: 'test' }),
    });
    expect(fromPage.statusCode).toBe(403);
    expect(await fromPage.body.text()).toContain('requests sent by web browsers');
    const rebound = await request(`${base}/gate/open`, {
      method: 'POST',
      headers: { host: 'rebind.evil.example' },
      body: JSON.stringify({ name: 'podinfo', namespace: 'test' }),
    });
    expect(rebound.statusCode).toBe(403);
    await rebound.body.dump();
    expect((await call(base, '/gate/check', { name: 'podinfo', namespace: 'test' })).status).toBe(403);
  });
});

describe('gate state', () => {
  const podinfo = { name: 'podinfo', namespace: 'test' };

  it('answers 500 and leaves the gate as it was when the change cannot be saved', async () => {
    const directory = temporaryDirectory();
    const { base } = await startLoadtester({ stateFile: join(directory, 'state', 'gates.json') });
    expect((await call(base, '/gate/open', podinfo)).status).toBe(202);
    rmSync(join(directory, 'state'), { recursive: true });
    writeFileSync(join(directory, 'state'), '');
    const rollback = await call(base, '/rollback/open', podinfo);
    expect(rollback.status).toBe(500);
    expect(rollback.text).toContain('cannot save the gate state');
    expect((await call(base, '/rollback/check', podinfo)).status).toBe(403);
    expect((await call(base, '/gate/close', podinfo)).status).toBe(500);
    expect((await call(base, '/gate/check', podinfo)).status).toBe(200);
  });

  it('keeps gate keys to Kubernetes names', async () => {
    const { base } = await startLoadtester();
    expect(await call(base, '/gate/open', { name: 'x'.repeat(300), namespace: 'test' })).toMatchObject({
      status: 400,
      text: 'invalid payload: name must be a Kubernetes name (lower-case letters, digits and -, at most 253 characters)',
    });
    expect(await call(base, '/gate/open', { name: 'podinfo', namespace: 'Test Space' })).toMatchObject({
      status: 400,
      text: expect.stringContaining('invalid payload: namespace must be a Kubernetes name'),
    });
  });
});

describe('--namespace-regexp', () => {
  it('answers 403 when the pattern takes too long on a namespace, instead of stalling', async () => {
    const { base, logs } = await startLoadtester({ namespacePattern: /^(a|aa)+$/ });
    const answer = await call(base, '/gate/check', { name: 'podinfo', namespace: `${'a'.repeat(62)}b` });
    expect(answer).toMatchObject({ status: 403, text: 'Forbidden' });
    expect(logs().some((entry) => String(entry['msg']).includes('--namespace-regexp took too long'))).toBe(
      true,
    );
    expect(await call(base, '/gate/check', { name: 'podinfo', namespace: 'aaaa' })).toMatchObject({
      status: 403,
      text: 'closed',
    });
  });
});
