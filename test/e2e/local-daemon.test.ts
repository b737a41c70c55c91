/**
 * Who owns local mode's processes, with the built binary and real processes (issue 21, issue 13
 * item 4): a daemon killed with SIGKILL leaves nothing running once local mode restarts; two
 * applies at once start one daemon; nothing is sent to a listener that is not this user's daemon;
 * an unusable state directory is reported in one clear line; each applied file owns its objects
 * and `vireo local delete` removes them with their processes and router.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { processAlive } from '../../src/platforms/local/process-group.js';
import { findFreePort } from '../../src/platforms/local/supervisor.js';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

const repository = join(import.meta.dirname, '..', '..');
const directories: string[] = [];

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function stateDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'vireo-ld-'));
  directories.push(directory);
  return directory;
}

function vireoSync(directory: string, ...args: string[]): Run {
  return spawnSync(process.execPath, ['bin/vireo.js', ...args], {
    cwd: repository,
    encoding: 'utf8',
    env: { ...process.env, VIREO_STATE_DIR: directory },
    timeout: 120_000,
  });
}

/** Runs the CLI without blocking the test (for two at once). */
function vireo(directory: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/vireo.js', ...args], {
      cwd: repository,
      env: { ...process.env, VIREO_STATE_DIR: directory },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

afterAll(() => {
  for (const directory of directories) {
    vireoSync(directory, 'local', 'down');
    rmSync(directory, { recursive: true, force: true });
  }
});

/** A Workload `name` (two demo-service replicas) and its Canary on `port`, plus a Secret. */
function manifest(name: string, port: number, version = '1.0.0', router = 'builtin'): string {
  return `apiVersion: local.vireo.dev/v1alpha1
kind: Workload
metadata: {name: ${name}, namespace: local}
spec:
  command: ${process.execPath}
  args: [${join(repository, 'dist/platforms/local/demo-service-main.js')}]
  env: {VERSION: "${version}"}
  replicas: 2
  readiness: {httpPath: /readyz}
  router: ${router}
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: ${name}, namespace: local}
spec:
  targetRef: {apiVersion: local.vireo.dev/v1alpha1, kind: Workload, name: ${name}}
  service: {port: ${port}}
  analysis:
    interval: 10s
    threshold: 2
    maxWeight: 50
    stepWeight: 10
    metrics:
      - {name: request-success-rate, interval: 30s, thresholdRange: {min: 99}}
---
apiVersion: v1
kind: Secret
metadata: {name: ${name}-hook, namespace: local}
stringData: {address: "http://127.0.0.1:1/TOP-SECRET-${name}"}
`;
}

function write(directory: string, file: string, text: string): string {
  const path = join(directory, file);
  writeFileSync(path, text);
  return path;
}

async function servesVersion(port: number, version: string): Promise<void> {
  await expect
    .poll(
      async () => {
        const answer = await fetch(`http://127.0.0.1:${port}/version`).catch(() => undefined);
        return answer?.status === 200 ? ((await answer.json()) as { version: string }).version : undefined;
      },
      { timeout: 60_000, interval: 250 },
    )
    .toBe(version);
}

const recordedReplicas = (directory: string): number[] =>
  JSON.parse(readFileSync(join(directory, 'replicas.json'), 'utf8')) as number[];

/** Living `vireo local serve` processes for the state directory, from /proc. */
async function daemonsOf(directory: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let command: string[];
    try {
      command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const serving = command.includes('serve') && command.includes('local');
    if (serving && command.includes(directory) && (await processAlive(Number(entry))))
      pids.push(Number(entry));
  }
  return pids;
}

/** Living replicas (primary or canary) of `workload` (namespace.name), from their environment. */
async function replicasRunning(workload: string, directory: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let environment: string[];
    try {
      environment = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
    } catch {
      continue;
    }
    // Replicas' logs live in the state directory: their VIREO_WORKLOAD plus our own state mark.
    if (
      (environment.includes(`VIREO_WORKLOAD=${workload}`) ||
        environment.includes(`VIREO_WORKLOAD=${workload}-primary`)) &&
      environment.includes(`VIREO_LOCAL_STATE=${directory}`) &&
      (await processAlive(Number(entry)))
    )
      pids.push(Number(entry));
  }
  return pids;
}

/** Which of nginx and Prometheus run for the state directory (their command lines name it). */
async function routerProcesses(directory: string): Promise<string[]> {
  const found = new Set<string>();
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let command: string;
    try {
      command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    if (!command.includes(`${directory}/`) || !(await processAlive(Number(entry)))) continue;
    if (command.startsWith('nginx')) found.add('nginx');
    if (command.startsWith('prometheus')) found.add('prometheus');
  }
  return [...found].sort();
}

describe('vireo local: the daemon owns its processes', () => {
  it('after the daemon is killed with SIGKILL, the next apply stops its replicas before starting new ones, and down leaves nothing', async () => {
    const directory = stateDirectory();
    const port = await findFreePort();
    const file = write(directory, 'web.yaml', manifest('web', port));
    expect(vireoSync(directory, 'local', 'apply', '-f', file).status).toBe(0);
    await servesVersion(port, '1.0.0');
    await expect.poll(() => recordedReplicas(directory).length, { timeout: 30_000 }).toBe(2);
    const first = recordedReplicas(directory);
    const [daemon] = await daemonsOf(directory);
    expect(daemon).toBeDefined();

    process.kill(daemon!, 'SIGKILL');
    await expect.poll(() => processAlive(daemon!), { timeout: 10_000 }).toBe(false);
    expect(await Promise.all(first.map((pid) => processAlive(pid)))).toEqual([true, true]);

    const again = vireoSync(directory, 'local', 'apply', '-f', file);
    expect(again.status, again.stderr).toBe(0);
    await servesVersion(port, '1.0.0');
    // The killed daemon's replicas are gone: only the new daemon's run.
    await expect
      .poll(() => Promise.all(first.map((pid) => processAlive(pid))), { timeout: 30_000 })
      .toEqual([false, false]);
    await expect.poll(() => recordedReplicas(directory).length, { timeout: 30_000 }).toBe(2);
    const second = recordedReplicas(directory);
    expect(second.filter((pid) => first.includes(pid))).toEqual([]);
    expect(await daemonsOf(directory)).toHaveLength(1);

    const down = vireoSync(directory, 'local', 'down');
    expect(down.status).toBe(0);
    expect(down.stdout).toContain('vireo local stopped');
    expect(await Promise.all([...first, ...second].map((pid) => processAlive(pid)))).not.toContain(true);
    expect(await replicasRunning('local.web', directory)).toEqual([]);
    expect(await daemonsOf(directory)).toEqual([]);
  });

  it('down after a SIGKILLed daemon stops every replica it left, found by its mark even when replicas.json is gone', async () => {
    const directory = stateDirectory();
    const port = await findFreePort();
    const file = write(directory, 'web.yaml', manifest('web', port));
    expect(vireoSync(directory, 'local', 'apply', '-f', file).status).toBe(0);
    await servesVersion(port, '1.0.0');
    await expect.poll(() => replicasRunning('local.web', directory), { timeout: 30_000 }).toHaveLength(2);
    const [daemon] = await daemonsOf(directory);
    process.kill(daemon!, 'SIGKILL');
    await expect.poll(() => processAlive(daemon!), { timeout: 10_000 }).toBe(false);
    rmSync(join(directory, 'replicas.json'), { force: true });

    const down = vireoSync(directory, 'local', 'down');
    expect(down.status).toBe(0);
    expect(down.stdout).toMatch(/stopped [1-9]\d* process group\(s\) it left behind/);
    expect(await replicasRunning('local.web', directory)).toEqual([]);
  });

  it('down after a SIGKILLed daemon stops the nginx and Prometheus it ran', async () => {
    const directory = stateDirectory();
    const port = await findFreePort();
    const file = write(directory, 'web.yaml', manifest('web', port, '1.0.0', 'nginx'));
    const applied = vireoSync(directory, 'local', 'apply', '-f', file);
    expect(applied.status, applied.stderr).toBe(0);
    await servesVersion(port, '1.0.0');
    await expect.poll(() => routerProcesses(directory), { timeout: 60_000 }).toEqual(['nginx', 'prometheus']);
    const [daemon] = await daemonsOf(directory);
    process.kill(daemon!, 'SIGKILL');
    await expect.poll(() => processAlive(daemon!), { timeout: 10_000 }).toBe(false);
    expect(await routerProcesses(directory)).toEqual(['nginx', 'prometheus']);

    const down = vireoSync(directory, 'local', 'down');
    expect(down.status).toBe(0);
    expect(await routerProcesses(directory)).toEqual([]);
    expect(await replicasRunning('local.web', directory)).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });

  it('two applies at once start one daemon, which runs what both applied', async () => {
    const directory = stateDirectory();
    const [alphaPort, betaPort] = [await findFreePort(), await findFreePort()];
    const alpha = write(directory, 'alpha.yaml', manifest('alpha', alphaPort));
    const beta = write(directory, 'beta.yaml', manifest('beta', betaPort));
    const results = await Promise.all([
      vireo(directory, 'local', 'apply', '-f', alpha),
      vireo(directory, 'local', 'apply', '-f', beta),
    ]);
    for (const result of results) expect(result.status, result.stderr).toBe(0);
    await servesVersion(alphaPort, '1.0.0');
    await servesVersion(betaPort, '1.0.0');
    // Any second daemon has given up by now: both applies were answered.
    expect(await daemonsOf(directory)).toHaveLength(1);
    const status = vireoSync(directory, 'local', 'status', '-o', 'json');
    const canaries = (JSON.parse(status.stdout) as { canary: string }[]).map((entry) => entry.canary).sort();
    expect(canaries).toEqual(['alpha.local', 'beta.local']);

    expect(vireoSync(directory, 'local', 'down').status).toBe(0);
    expect(await daemonsOf(directory)).toEqual([]);
    expect(await replicasRunning('local.alpha', directory)).toEqual([]);
    expect(await replicasRunning('local.beta', directory)).toEqual([]);
  });
});

describe('vireo local: nothing is sent to a listener that is not the daemon', () => {
  it('a stale daemon.json naming a port someone else now listens on receives no token and no manifest', async () => {
    const directory = stateDirectory();
    let connections = 0;
    const received: string[] = [];
    const impostor = createHttpServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push(`${request.method} ${request.url} ${request.headers.authorization ?? ''} ${body}`);
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"canaries":[]}');
      });
    });
    impostor.on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const impostorPort = (impostor.address() as { port: number }).port;
    try {
      // What a daemon killed before this version left: its address and token.
      writeFileSync(
        join(directory, 'daemon.json'),
        JSON.stringify({ pid: 999_999, url: `http://127.0.0.1:${impostorPort}`, token: 'stale-token' }),
        { mode: 0o600 },
      );
      const port = await findFreePort();
      const file = write(directory, 'web.yaml', manifest('web', port));
      const applied = vireoSync(directory, 'local', 'apply', '-f', file);
      expect(applied.status, applied.stderr).toBe(0);
      await servesVersion(port, '1.0.0');
      expect(vireoSync(directory, 'local', 'status').status).toBe(0);
      expect(vireoSync(directory, 'local', 'down').status).toBe(0);
      expect(received).toEqual([]);
      expect(connections).toBe(0);
    } finally {
      await new Promise((resolve) => impostor.close(resolve));
    }
  });

  it('a daemon.sock that others may write to is refused before anything is sent', async () => {
    const directory = stateDirectory();
    const socket = join(directory, 'daemon.sock');
    let connections = 0;
    const impostor: Server = createNetServer((connection) => {
      connections += 1;
      connection.destroy();
    });
    await new Promise<void>((resolve) => impostor.listen(socket, resolve));
    try {
      spawnSync('chmod', ['666', socket]);
      const file = write(directory, 'web.yaml', manifest('web', await findFreePort()));
      const applied = vireoSync(directory, 'local', 'apply', '-f', file);
      expect(applied.status).toBe(1);
      expect(applied.stderr).toContain('is not a socket that only you can use');
      expect(applied.stderr).not.toContain('TOP-SECRET');
      expect(connections).toBe(0);
      expect(await daemonsOf(directory)).toEqual([]);
    } finally {
      await new Promise((resolve) => impostor.close(resolve));
    }
  });
});

describe('vireo local: an unusable state directory', () => {
  it('exits 1 with one line naming the directory and what to do, no stack trace', () => {
    const parent = stateDirectory();
    // A path under a regular file cannot be created, even by root (for whom modes do not apply).
    const blocker = write(parent, 'not-a-directory', '');
    const file = write(parent, 'web.yaml', manifest('web', 18_080));
    const result = spawnSync(process.execPath, ['bin/vireo.js', 'local', 'apply', '-f', file], {
      cwd: repository,
      encoding: 'utf8',
      env: { ...process.env, VIREO_STATE_DIR: join(blocker, 'state') },
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^vireo: cannot use .*not-a-directory\/state as the state directory \(ENOTDIR\): choose a writable one with --state-dir or VIREO_STATE_DIR \[E_LOCAL_STATE\]\n$/,
    );
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('vireo local: each applied file owns its objects', () => {
  it('a second file adds to the first; delete removes one file’s canary with its processes and router', async () => {
    const directory = stateDirectory();
    const [alphaPort, betaPort] = [await findFreePort(), await findFreePort()];
    const alpha = write(directory, 'alpha.yaml', manifest('alpha', alphaPort));
    const beta = write(directory, 'beta.yaml', manifest('beta', betaPort));
    expect(vireoSync(directory, 'local', 'apply', '-f', alpha).status).toBe(0);
    await servesVersion(alphaPort, '1.0.0');
    await expect.poll(() => replicasRunning('local.alpha', directory), { timeout: 30_000 }).toHaveLength(2);
    const alphaReplicas = await replicasRunning('local.alpha', directory);
    expect(vireoSync(directory, 'local', 'apply', '-f', beta).status).toBe(0);
    await servesVersion(betaPort, '1.0.0');

    const status = vireoSync(directory, 'local', 'status');
    expect(status.stdout).toContain('alpha.local');
    expect(status.stdout).toContain('beta.local');
    expect(status.stdout).toContain(`files: ${alpha}, ${beta}`);

    // The same Canary in another file is refused, naming the file that declared it.
    const copy = write(directory, 'copy.yaml', manifest('alpha', alphaPort, '9.9.9'));
    const conflict = vireoSync(directory, 'local', 'apply', '-f', copy);
    expect(conflict.status).toBe(1);
    expect(conflict.stderr).toContain(`Canary/alpha in namespace local is already declared by ${alpha}`);
    expect(conflict.stderr).not.toContain('TOP-SECRET');

    const deleted = vireoSync(directory, 'local', 'delete', '-f', alpha);
    expect(deleted.status, deleted.stderr).toBe(0);
    expect(deleted.stdout).not.toContain('alpha.local');
    expect(await Promise.all(alphaReplicas.map((pid) => processAlive(pid)))).toEqual([false, false]);
    await expect(fetch(`http://127.0.0.1:${alphaPort}/`)).rejects.toThrow();
    await servesVersion(betaPort, '1.0.0');
    const after = JSON.parse(vireoSync(directory, 'local', 'status', '-o', 'json').stdout) as {
      canary: string;
    }[];
    expect(after.map((entry) => entry.canary)).toEqual(['beta.local']);

    const again = vireoSync(directory, 'local', 'delete', '-f', alpha);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`${alpha} is not applied; applied files: ${beta}`);
  });
});

describe('vireo local: the global notifier from the environment', () => {
  it('sends the messages of a canary without analysis.alerts to MSTEAMS_URL', async () => {
    const directory = stateDirectory();
    const bodies: string[] = [];
    const teams = createHttpServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        bodies.push(body);
        response.writeHead(200).end('1');
      });
    });
    await new Promise<void>((resolve) => teams.listen(0, '127.0.0.1', resolve));
    try {
      const port = await findFreePort();
      const file = write(directory, 'web.yaml', manifest('web', port));
      const applied = spawnSync(process.execPath, ['bin/vireo.js', 'local', 'apply', '-f', file], {
        cwd: repository,
        encoding: 'utf8',
        env: {
          ...process.env,
          VIREO_STATE_DIR: directory,
          MSTEAMS_URL: `http://127.0.0.1:${(teams.address() as { port: number }).port}/teams`,
        },
        timeout: 120_000,
      });
      expect(applied.status, applied.stderr).toBe(0);
      await expect
        .poll(
          () =>
            bodies.find(
              (body) =>
                body.includes('New Workload detected, initialization completed.') &&
                body.includes('web.local'),
            ),
          {
            timeout: 60_000,
            interval: 250,
          },
        )
        .toBeDefined();
    } finally {
      await new Promise((resolve) => teams.close(resolve));
    }
  });

  it('refuses SLACK_URL without SLACK_CHANNEL before starting anything', () => {
    const directory = stateDirectory();
    const file = write(directory, 'web.yaml', manifest('web', 18_081));
    const applied = spawnSync(process.execPath, ['bin/vireo.js', 'local', 'apply', '-f', file], {
      cwd: repository,
      encoding: 'utf8',
      env: {
        ...process.env,
        VIREO_STATE_DIR: directory,
        SLACK_URL: 'http://127.0.0.1:1/slack',
        SLACK_CHANNEL: '',
      },
      timeout: 60_000,
    });
    expect(applied.status).toBe(1);
    expect(applied.stderr).toContain('empty Slack channel');
  });
});
