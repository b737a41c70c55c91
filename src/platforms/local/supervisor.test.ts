import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../shared/logger.js';
import {
  CRASH_SCRIPT,
  DEMO_SERVICE_ARGS,
  GRANDPARENT_SCRIPT,
  SERVER_SCRIPT,
  httpGet,
} from './process-fixtures.test-helper.js';
import { processAlive } from './process-group.js';
import {
  DEFAULT_BACKOFF,
  InvalidWorkloadSpecError,
  ProcessSupervisor,
  WorkloadNotReadyError,
  WorkloadSpawnError,
  findFreePort,
  restartDelayMs,
  type SupervisorDeps,
  type WorkloadSpec,
  type WorkloadStatus,
} from './supervisor.js';

// Real processes: on a loaded machine, starting Node (and tsx) can take longer than the 5 s default.
vi.setConfig({ testTimeout: 30_000, hookTimeout: 30_000 });

const supervisors: ProcessSupervisor[] = [];
const directories: string[] = [];
afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((supervisor) => supervisor.stopAll()));
  await Promise.all(
    directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })),
  );
});

/** Quick timings for tests: the defaults (1 s backoff, 5 s grace) are documented behaviour, tested in unit form. */
function newTestSupervisor(deps: SupervisorDeps = {}): ProcessSupervisor {
  const supervisor = new ProcessSupervisor({
    backoff: { initialMs: 50, maxMs: 400 },
    stopGraceMs: 1_000,
    aliveReadyMs: 200,
    drainMs: 20,
    ...deps,
  });
  supervisors.push(supervisor);
  return supervisor;
}

async function temporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'vireo-supervisor-'));
  directories.push(directory);
  return directory;
}

function serverSpec(overrides: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return {
    name: 'web',
    command: process.execPath,
    args: ['-e', SERVER_SCRIPT],
    replicas: 1,
    readiness: { httpPath: '/readyz', periodMs: 25 },
    ...overrides,
  };
}

/** Log lines of a pino logger, parsed. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').trim().split('\n')) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ destination, level: 'debug' }), lines };
}

const identity = async (url: string) => JSON.parse((await httpGet(url)).body) as Record<string, unknown>;

async function waitForStatus(
  supervisor: ProcessSupervisor,
  set: string,
  predicate: (status: WorkloadStatus) => boolean,
  timeout = 15_000,
): Promise<WorkloadStatus> {
  await expect
    .poll(
      () => {
        const status = supervisor.status(set);
        return status !== undefined && predicate(status);
      },
      { timeout, interval: 20 },
    )
    .toBe(true);
  return supervisor.status(set)!;
}

/** Two adjacent free ports, for base-port tests. */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = await findFreePort();
    if (port >= 65_535) continue;
    const probe = createServer();
    const free = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(port + 1, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no two adjacent free ports');
}

/** Requests the set's ready replicas round-robin until stopped; counts failures. */
function probeLoop(urls: () => readonly string[]) {
  let running = true;
  let sent = 0;
  const failures: string[] = [];
  const seen = new Set<string>();
  const done = (async () => {
    while (running) {
      const list = urls();
      const url = list[sent % Math.max(list.length, 1)];
      sent += 1;
      if (url === undefined) {
        failures.push('no ready replica');
      } else {
        try {
          const answer = await httpGet(url);
          if (answer.status !== 200) failures.push(`${url}: HTTP ${answer.status}`);
          else seen.add(String((JSON.parse(answer.body) as { version: string }).version));
        } catch (error) {
          failures.push(`${url}: ${(error as Error).message}`);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return {
    failures,
    seen,
    sent: () => sent,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

describe('ProcessSupervisor: running replicas', () => {
  it('runs each replica on its own free port with PORT, VIREO_WORKLOAD, VIREO_REPLICA and the spec env', async () => {
    const supervisor = newTestSupervisor();
    await supervisor.apply('web-primary', serverSpec({ replicas: 3, env: { VERSION: 'v1', PORT: '1' } }));
    await supervisor.waitReady('web-primary', 10_000);
    const status = supervisor.status('web-primary')!;
    expect(status).toMatchObject({ desired: 3, ready: 3, rolling: false });
    const ports = status.replicas.map((replica) => replica.port);
    expect(new Set(ports).size).toBe(3);
    for (const replica of status.replicas) {
      expect(replica).toMatchObject({
        ready: true,
        restarts: 0,
        state: 'running',
        url: `http://127.0.0.1:${replica.port}`,
      });
      expect(await identity(replica.url)).toEqual({
        pid: replica.pid,
        port: replica.port,
        workload: 'web-primary',
        replica: String(replica.index),
        version: 'v1',
      });
    }
    expect(status.replicas.map((replica) => replica.index)).toEqual([0, 1, 2]);
    expect(supervisor.endpoints('web-primary')).toEqual(status.replicas.map((replica) => replica.url));
    expect(supervisor.pids().sort()).toEqual(status.replicas.map((replica) => replica.pid).sort());
    expect(supervisor.readiness('web-primary')).toBe(true);
    expect(supervisor.readiness('unknown')).toBe(false);
    expect(supervisor.status('unknown')).toBeUndefined();
  });

  it('gives replica i of base port p the port p + i', async () => {
    const base = await freePortPair();
    const supervisor = newTestSupervisor();
    await supervisor.apply('fixed', serverSpec({ replicas: 2, port: base }));
    await supervisor.waitReady('fixed', 10_000);
    const replicas = supervisor.status('fixed')!.replicas;
    expect(replicas.map((replica) => [replica.index, replica.port])).toEqual([
      [0, base],
      [1, base + 1],
    ]);
    expect((await identity(`http://127.0.0.1:${base + 1}`))['replica']).toBe('1');
  });

  it('is ready only once the readiness path answers 2xx (the demo service with READY_DELAY)', async () => {
    const firstReady: number[] = [];
    const supervisor = newTestSupervisor({
      onChange: async (_set, status) => {
        const replica = status.replicas[0];
        if (replica?.ready === true && firstReady.length === 0) {
          firstReady.push((await httpGet(`${replica.url}/readyz`)).status);
        }
      },
    });
    await supervisor.apply(
      'demo',
      serverSpec({
        command: process.execPath,
        args: DEMO_SERVICE_ARGS,
        env: { READY_DELAY: '1500ms', VERSION: '1.0.0' },
        readiness: { httpPath: '/readyz', periodMs: 50 },
      }),
    );
    expect(supervisor.readiness('demo')).toBe(false);
    // Live, listening, but not ready yet: the supervisor must still say "not ready".
    const listening = await waitForStatus(
      supervisor,
      'demo',
      (status) => status.replicas[0]?.state === 'running',
    );
    await expect
      .poll(
        async () => (await httpGet(`${listening.replicas[0]!.url}/healthz`).catch(() => undefined))?.status,
        {
          timeout: 10_000,
        },
      )
      .toBe(200);
    expect((await httpGet(`${listening.replicas[0]!.url}/readyz`)).status).toBe(503);
    expect(supervisor.status('demo')!.ready).toBe(0);

    await supervisor.waitReady('demo', 15_000);
    // onChange probes /readyz on its own; its answer may land just after waitReady returns.
    await expect.poll(() => firstReady, { timeout: 5_000 }).toEqual([200]);
    const answer = await httpGet(`${supervisor.endpoints('demo')[0]}/`);
    expect(answer.headers['x-version']).toBe('1.0.0');
  });

  it('never calls a replica ready while its readiness path fails', async () => {
    const supervisor = newTestSupervisor();
    await supervisor.apply('never', serverSpec({ env: { READY_DELAY_MS: '600000' } }));
    await expect(supervisor.waitReady('never', 1_000)).rejects.toThrow(WorkloadNotReadyError);
    await expect(supervisor.waitReady('never', 100)).rejects.toThrow(
      /^workload "never": 0 of 1 replicas ready after 100 ms; see its logs$/,
    );
    expect(supervisor.status('never')!.replicas[0]).toMatchObject({ state: 'running', ready: false });
  });

  it('without a readiness probe, a replica is ready once it has stayed up for aliveReadyMs', async () => {
    const seen: { set: string; state: string; ready: boolean; restarts: number }[] = [];
    const supervisor = newTestSupervisor({
      aliveReadyMs: 400,
      onChange: (set, status) => {
        for (const replica of status.replicas) seen.push({ set, ...replica });
      },
    });
    await supervisor.apply('plain', serverSpec({ readiness: undefined }));
    await supervisor.waitReady('plain', 5_000);
    const plain = seen.filter((entry) => entry.set === 'plain');
    expect(plain.find((entry) => entry.state === 'running')).toMatchObject({ ready: false });
    expect(plain.at(-1)).toMatchObject({ state: 'running', ready: true });

    // A process that dies at once is never ready, however often it is restarted. (A long
    // aliveReadyMs: on a loaded machine Node alone can take a while to boot before it exits.)
    const patient = newTestSupervisor({
      aliveReadyMs: 5_000,
      onChange: (set, status) => {
        for (const replica of status.replicas) seen.push({ set, ...replica });
      },
    });
    await patient.apply('crashing', {
      name: 'c',
      command: process.execPath,
      args: ['-e', CRASH_SCRIPT],
      replicas: 1,
    });
    await waitForStatus(patient, 'crashing', (status) => status.replicas[0]!.restarts >= 3);
    const crashing = seen.filter((entry) => entry.set === 'crashing');
    expect(crashing.some((entry) => entry.state === 'backoff')).toBe(true);
    expect(crashing.some((entry) => entry.ready)).toBe(false);
  });

  it('changes nothing when the same spec is applied again', async () => {
    const supervisor = newTestSupervisor();
    const spec = serverSpec({ replicas: 2, env: { A: '1', B: '2' } });
    await supervisor.apply('same', spec);
    await supervisor.waitReady('same', 10_000);
    const before = supervisor.status('same')!;
    await supervisor.apply('same', { ...spec, env: { B: '2', A: '1' } });
    await supervisor.apply('same', serverSpec({ replicas: 2, env: { A: '1', B: '2' } }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(supervisor.status('same')).toEqual(before);
  });
});

describe('ProcessSupervisor: crashes and backoff', () => {
  it('restarts a replica killed with SIGKILL, on the same port, counting the restart', async () => {
    const { logger, lines } = capturedLogger();
    const supervisor = newTestSupervisor({ logger });
    await supervisor.apply('crashy', serverSpec());
    await supervisor.waitReady('crashy', 10_000);
    const first = supervisor.status('crashy')!.replicas[0]!;
    process.kill(first.pid!, 'SIGKILL');
    const restarted = await waitForStatus(
      supervisor,
      'crashy',
      (status) => status.replicas[0]?.restarts === 1 && status.ready === 1,
    );
    const replica = restarted.replicas[0]!;
    expect(replica.pid).not.toBe(first.pid);
    expect(replica.port).toBe(first.port);
    expect(replica.lastExit).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(replica.lastExit!.at).toBeInstanceOf(Date);
    expect((await identity(replica.url))['pid']).toBe(replica.pid);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        workload: 'crashy',
        replica: 0,
        signal: 'SIGKILL',
        pid: first.pid,
        restartInMs: 50,
        msg: 'replica exited (SIGKILL); restarting in 50 ms',
      }),
    );

    process.kill(replica.pid!, 'SIGKILL');
    await waitForStatus(
      supervisor,
      'crashy',
      (status) => status.replicas[0]?.restarts === 2 && status.ready === 1,
    );
  });

  it('backs off exponentially on repeated crashes, capped at maxMs', async () => {
    const { logger, lines } = capturedLogger();
    const supervisor = newTestSupervisor({ logger, backoff: { initialMs: 20, maxMs: 80 } });
    await supervisor.apply('loop', {
      name: 'loop',
      command: process.execPath,
      args: ['-e', CRASH_SCRIPT],
      replicas: 1,
    });
    const delays = () =>
      lines
        .filter((line) => line['workload'] === 'loop' && 'restartInMs' in line)
        .map((line) => line['restartInMs']);
    await expect.poll(() => delays().length, { timeout: 20_000 }).toBeGreaterThanOrEqual(6);
    expect(delays().slice(0, 6)).toEqual([20, 40, 80, 80, 80, 80]);
    const status = supervisor.status('loop')!;
    expect(status.replicas[0]!.lastExit).toMatchObject({ code: 3, signal: null });
    expect(status.replicas[0]!.restarts).toBeGreaterThanOrEqual(5);
    expect(status.ready).toBe(0);
  });

  it('starts the backoff again from initialMs after resetAfterMs of healthy running', async () => {
    let clock = 1_000_000;
    const { logger, lines } = capturedLogger();
    const supervisor = newTestSupervisor({
      logger,
      now: () => clock,
      backoff: { initialMs: 20, maxMs: 1_000, resetAfterMs: 60_000 },
    });
    await supervisor.apply('reset', serverSpec());
    const crash = async (expectedRestarts: number) => {
      const { replicas } = await waitForStatus(supervisor, 'reset', (status) => status.ready === 1);
      process.kill(replicas[0]!.pid!, 'SIGKILL');
      await waitForStatus(supervisor, 'reset', (status) => status.replicas[0]!.restarts === expectedRestarts);
    };
    await crash(1);
    await crash(2);
    await crash(3);
    await waitForStatus(supervisor, 'reset', (status) => status.ready === 1);
    clock += 60_000; // it has now run a healthy minute
    await crash(4);
    const delays = lines.filter((line) => 'restartInMs' in line).map((line) => line['restartInMs']);
    expect(delays).toEqual([20, 40, 80, 20]);
  });

  it('computes the documented default delays: 1 s, 2 s, 4 s … capped at 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((crashes) => restartDelayMs(DEFAULT_BACKOFF, crashes))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ]);
    expect(DEFAULT_BACKOFF.resetAfterMs).toBe(60_000);
  });
});

describe('ProcessSupervisor: rolling a new spec', () => {
  it.each([1, 2])(
    'replaces %i replica(s), starting each new one before stopping the old, with no failed request',
    async (replicas) => {
      let urls: readonly string[] = [];
      const supervisor = newTestSupervisor({
        onChange: (_set, status) => {
          urls = status.replicas.filter((replica) => replica.ready).map((replica) => replica.url);
        },
      });
      await supervisor.apply('roll', serverSpec({ replicas, env: { VERSION: 'v1' } }));
      await supervisor.waitReady('roll', 10_000);
      const before = supervisor.status('roll')!;
      const probes = probeLoop(() => urls);
      await new Promise((resolve) => setTimeout(resolve, 100));

      await supervisor.apply(
        'roll',
        serverSpec({ replicas, env: { VERSION: 'v2' }, readiness: { httpPath: '/readyz', periodMs: 25 } }),
      );
      expect(supervisor.status('roll')!.rolling).toBe(true);
      expect(supervisor.readiness('roll')).toBe(false);
      await supervisor.waitReady('roll', 15_000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await probes.stop();

      expect(probes.failures).toEqual([]);
      expect(probes.sent()).toBeGreaterThan(20);
      expect([...probes.seen].sort()).toEqual(['v1', 'v2']);
      const after = supervisor.status('roll')!;
      expect(after.specHash).not.toBe(before.specHash);
      expect(after.replicas).toHaveLength(replicas);
      for (const replica of after.replicas) {
        expect(before.replicas.map((old) => old.pid)).not.toContain(replica.pid);
        expect((await identity(replica.url))['version']).toBe('v2');
      }
      for (const old of before.replicas) expect(await processAlive(old.pid!)).toBe(false);
    },
  );

  it('keeps the old replicas serving while the new spec never becomes ready, and rolls back cleanly', async () => {
    const supervisor = newTestSupervisor();
    const good = serverSpec({ replicas: 2, env: { VERSION: 'v1' } });
    await supervisor.apply('stuck', good);
    await supervisor.waitReady('stuck', 10_000);
    const before = supervisor.status('stuck')!;
    await supervisor.apply('stuck', { ...good, env: { VERSION: 'v2', READY_DELAY_MS: '600000' } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stuck = supervisor.status('stuck')!;
    expect(stuck.rolling).toBe(true);
    // One surge replica at a time; both old ones still serve.
    expect(
      stuck.replicas.filter((replica) => replica.specHash !== stuck.specHash).map((replica) => replica.pid),
    ).toEqual(before.replicas.map((replica) => replica.pid));
    expect(stuck.replicas).toHaveLength(3);
    expect(supervisor.endpoints('stuck')).toEqual(before.replicas.map((replica) => replica.url));

    await supervisor.apply('stuck', good);
    await waitForStatus(supervisor, 'stuck', (status) => status.replicas.length === 2 && !status.rolling);
    expect(supervisor.status('stuck')!.replicas.map((replica) => replica.pid)).toEqual(
      before.replicas.map((replica) => replica.pid),
    );
    expect(supervisor.readiness('stuck')).toBe(true);
  });

  it('rolls a fixed-port set one replica at a time, keeping it available, on the same ports', async () => {
    const base = await freePortPair();
    let urls: readonly string[] = [];
    const supervisor = newTestSupervisor({
      onChange: (_set, status) => {
        urls = status.replicas.filter((replica) => replica.ready).map((replica) => replica.url);
      },
    });
    await supervisor.apply('fixed-roll', serverSpec({ replicas: 2, port: base, env: { VERSION: 'v1' } }));
    await supervisor.waitReady('fixed-roll', 10_000);
    const before = supervisor.status('fixed-roll')!;
    const probes = probeLoop(() => urls);
    await supervisor.apply('fixed-roll', serverSpec({ replicas: 2, port: base, env: { VERSION: 'v2' } }));
    await supervisor.waitReady('fixed-roll', 15_000);
    await probes.stop();
    expect(probes.failures).toEqual([]);
    const after = supervisor.status('fixed-roll')!;
    expect(after.replicas.map((replica) => replica.port)).toEqual([base, base + 1]);
    expect(after.replicas.map((replica) => replica.pid)).not.toContain(before.replicas[0]!.pid);
    expect(after.replicas.map((replica) => replica.pid)).not.toContain(before.replicas[1]!.pid);
    expect((await identity(`http://127.0.0.1:${base}`))['version']).toBe('v2');
  });
});

describe('ProcessSupervisor: scaling and stopping', () => {
  it('scales to 0 (every process gone) and back', async () => {
    const supervisor = newTestSupervisor();
    await supervisor.apply('scale', serverSpec({ replicas: 2 }));
    await supervisor.waitReady('scale', 10_000);
    const pids = supervisor.pids();
    await supervisor.apply('scale', serverSpec({ replicas: 0 }));
    await waitForStatus(supervisor, 'scale', (status) => status.replicas.length === 0);
    expect(supervisor.status('scale')).toMatchObject({ desired: 0, ready: 0, replicas: [] });
    expect(supervisor.readiness('scale')).toBe(true);
    expect(supervisor.pids()).toEqual([]);
    for (const pid of pids) expect(await processAlive(pid)).toBe(false);

    await supervisor.apply('scale', serverSpec({ replicas: 2 }));
    await supervisor.waitReady('scale', 10_000);
    const status = supervisor.status('scale')!;
    for (const replica of status.replicas) expect(pids).not.toContain(replica.pid);
    expect((await httpGet(status.replicas[1]!.url)).status).toBe(200);
  });

  it('scales down by stopping the highest replicas', async () => {
    const supervisor = newTestSupervisor();
    await supervisor.apply('down', serverSpec({ replicas: 3 }));
    await supervisor.waitReady('down', 10_000);
    const before = supervisor.status('down')!.replicas;
    await supervisor.apply('down', serverSpec({ replicas: 1 }));
    await waitForStatus(supervisor, 'down', (status) => status.replicas.length === 1);
    expect(supervisor.status('down')!.replicas[0]!.pid).toBe(before[0]!.pid);
    expect(await processAlive(before[2]!.pid!)).toBe(false);
  });

  it('stop() takes the whole process group: a child and its grandchild are both gone', async () => {
    const directory = await temporaryDirectory();
    const supervisor = newTestSupervisor({ logDirectory: directory });
    await supervisor.apply('family', {
      name: 'family',
      command: process.execPath,
      args: ['-e', GRANDPARENT_SCRIPT],
      replicas: 1,
    });
    await supervisor.waitReady('family', 10_000);
    const leader = supervisor.pids()[0]!;
    const grandchild = await grandchildPid(join(directory, 'family-0.log'));
    expect(await processAlive(grandchild)).toBe(true);
    await supervisor.stop('family');
    expect(await processAlive(leader)).toBe(false);
    expect(await processAlive(grandchild)).toBe(false);
    expect(supervisor.status('family')).toBeUndefined();
    expect(supervisor.pids()).toEqual([]);
  });

  it('SIGKILLs a group that ignores SIGTERM after the grace period', async () => {
    const directory = await temporaryDirectory();
    const { logger, lines } = capturedLogger();
    const supervisor = newTestSupervisor({ logDirectory: directory, stopGraceMs: 300, logger });
    await supervisor.apply('stubborn', {
      name: 'stubborn',
      command: process.execPath,
      args: ['-e', GRANDPARENT_SCRIPT],
      env: { STUBBORN: '1' },
      replicas: 1,
    });
    await supervisor.waitReady('stubborn', 10_000);
    const leader = supervisor.pids()[0]!;
    const grandchild = await grandchildPid(join(directory, 'stubborn-0.log'));
    await supervisor.stop('stubborn');
    expect(await processAlive(leader)).toBe(false);
    expect(await processAlive(grandchild)).toBe(false);
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'replica did not stop within 300 ms; killed' }),
    );
  });

  it('stopAll() stops every set', async () => {
    const supervisor = newTestSupervisor();
    await supervisor.apply('one', serverSpec());
    await supervisor.apply('two', serverSpec({ replicas: 2 }));
    const pids = supervisor.pids();
    expect(pids).toHaveLength(3);
    expect(supervisor.setNames().sort()).toEqual(['one', 'two']);
    await supervisor.stopAll();
    expect(supervisor.setNames()).toEqual([]);
    for (const pid of pids) expect(await processAlive(pid)).toBe(false);
  });

  it('kills its children when the Vireo process exits', async () => {
    const supervisorModule = fileURLToPath(new URL('./supervisor.ts', import.meta.url));
    const script = `
      import { ProcessSupervisor } from ${JSON.stringify(supervisorModule)};
      const supervisor = new ProcessSupervisor();
      await supervisor.apply('orphans', { name: 'o', command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'], replicas: 2 });
      console.log(JSON.stringify(supervisor.pids()));
      process.exit(0);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await once(child, 'exit');
    const pids = JSON.parse(output) as number[];
    expect(pids).toHaveLength(2);
    for (const pid of pids) await expect.poll(() => processAlive(pid), { timeout: 5_000 }).toBe(false);
  });
});

describe('ProcessSupervisor: failures and logs', () => {
  it('rejects a command that cannot be started with an error naming it, and reports it in status', async () => {
    const supervisor = newTestSupervisor();
    const attempt = supervisor.apply('missing', { name: 'm', command: 'vireo-no-such-command', replicas: 2 });
    await expect(attempt).rejects.toThrow(WorkloadSpawnError);
    await expect(attempt).rejects.toMatchObject({
      code: 'E_WORKLOAD_SPAWN',
      command: 'vireo-no-such-command',
      message:
        'workload "missing": cannot start command "vireo-no-such-command": not found (ENOENT); give an absolute path or add its directory to PATH',
    });
    const status = supervisor.status('missing')!;
    expect(status.error).toMatch(/cannot start command "vireo-no-such-command"/);
    expect(status.replicas[0]).toMatchObject({ state: 'failed', ready: false, pid: undefined });
    expect(supervisor.readiness('missing')).toBe(false);

    // Fixing the spec recovers the set.
    await supervisor.apply('missing', serverSpec({ replicas: 2 }));
    await supervisor.waitReady('missing', 10_000);
    expect(supervisor.status('missing')!.error).toBeUndefined();
  });

  it('keeps retrying with backoff when a restart cannot start the command, and recovers when it is back', async () => {
    const directory = await temporaryDirectory();
    const program = join(directory, 'server.sh');
    await writeFile(join(directory, 'server.cjs'), SERVER_SCRIPT);
    const script = `#!/bin/sh\nexec '${process.execPath}' '${join(directory, 'server.cjs')}'\n`;
    await writeFile(program, script, { mode: 0o755 });
    const supervisor = newTestSupervisor();
    await supervisor.apply('vanishing', serverSpec({ command: program, args: [] }));
    await supervisor.waitReady('vanishing', 10_000);
    await rm(program);
    process.kill(supervisor.pids()[0]!, 'SIGKILL');
    const broken = await waitForStatus(
      supervisor,
      'vanishing',
      (status) => status.replicas[0]!.restarts >= 2 && status.error !== undefined,
    );
    expect(broken.error).toBe(
      `workload "vanishing": cannot start command "${program}": not found (ENOENT); give an absolute path or add its directory to PATH`,
    );
    expect(broken.replicas[0]!.pid).toBeUndefined();
    await writeFile(program, script, { mode: 0o755 });
    const recovered = await waitForStatus(supervisor, 'vanishing', (status) => status.ready === 1);
    expect(recovered.error).toBeUndefined();
    expect((await httpGet(recovered.replicas[0]!.url)).status).toBe(200);
  });

  it.each<[string, string, Partial<WorkloadSpec>]>([
    ['web', 'replicas must be a whole number from 0 to 1000, got -1', { replicas: -1 }],
    ['web', 'replicas must be a whole number from 0 to 1000, got 1.5', { replicas: 1.5 }],
    ['web', 'command must be a program name or path, got ""', { command: '' }],
    ['web', 'port must be a port number from 0 to 65535 (0 picks free ports), got 70000', { port: 70_000 }],
    [
      'web',
      'port leaves no room for 3 replicas (replica i listens on port + i), got 65534',
      { port: 65_534, replicas: 3 },
    ],
    ['web', `readiness.httpPath must start with '/', got "readyz"`, { readiness: { httpPath: 'readyz' } }],
    ['web', 'cwd "/no/such/directory" is not a directory', { cwd: '/no/such/directory' }],
  ])('rejects an invalid spec for %s: %s', async (set, message, overrides) => {
    const supervisor = newTestSupervisor();
    const attempt = supervisor.apply(set, serverSpec(overrides));
    await expect(attempt).rejects.toThrow(InvalidWorkloadSpecError);
    await expect(attempt).rejects.toThrow(`workload "${set}": ${message}`);
    expect(supervisor.pids()).toEqual([]);
  });

  it('rejects set names that are not safe in a file name', async () => {
    const supervisor = newTestSupervisor();
    await expect(supervisor.apply('../etc', serverSpec())).rejects.toThrow(
      /workload set name "..\/etc" is not valid/,
    );
  });

  it('appends each replica’s stdout and stderr to <logDirectory>/<set>-<i>.log, across restarts', async () => {
    const directory = await temporaryDirectory();
    const supervisor = newTestSupervisor({ logDirectory: join(directory, 'logs') });
    await supervisor.apply('logged', serverSpec({ replicas: 2 }));
    await supervisor.waitReady('logged', 10_000);
    const [first, second] = supervisor.status('logged')!.replicas;
    await expect
      .poll(() => readFile(join(directory, 'logs', 'logged-1.log'), 'utf8'), { timeout: 5_000 })
      .toBe(`listening on ${second!.port}\nready for work (stderr)\n`);
    process.kill(first!.pid!, 'SIGKILL');
    await waitForStatus(
      supervisor,
      'logged',
      (status) => status.ready === 2 && status.replicas[0]!.restarts === 1,
    );
    await expect
      .poll(() => readFile(join(directory, 'logs', 'logged-0.log'), 'utf8'), { timeout: 5_000 })
      .toBe(`listening on ${first!.port}\nready for work (stderr)\n`.repeat(2));
  });
});

async function grandchildPid(logFile: string): Promise<number> {
  let pid = 0;
  await expect
    .poll(
      async () => {
        const text = await readFile(logFile, 'utf8').catch(() => '');
        pid = Number(/grandchild (\d+)/.exec(text)?.[1] ?? 0);
        return pid;
      },
      { timeout: 5_000 },
    )
    .toBeGreaterThan(0);
  return pid;
}
