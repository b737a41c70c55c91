import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  exitOf,
  livePidFromFile,
  processAlive,
  spawnOutcome,
  stopBySignals,
  stopProcess,
  type StopTarget,
} from './process.js';

const children: ChildProcess[] = [];

/** A node child that prints "ready" once its SIGTERM handling is in place. */
async function startChild(options: { ignoreTerm: boolean; marker?: string }): Promise<ChildProcess> {
  const script = [
    options.ignoreTerm ? "process.on('SIGTERM', () => {});" : '',
    "process.stdout.write('ready\\n');",
    'setInterval(() => {}, 1000);',
  ].join('');
  const child = spawn(process.execPath, ['-e', script, options.marker ?? 'vireo-process-test'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(child);
  await once(child.stdout, 'data');
  return child;
}

const targetOf = (child: ChildProcess): StopTarget => ({
  signal: (signal) => child.kill(signal),
  alive: () => child.exitCode === null && child.signalCode === null,
  exited: exitOf(child),
});

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

describe('spawnOutcome', () => {
  it('resolves undefined for a program that started', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    children.push(child);
    expect(await spawnOutcome(child)).toBeUndefined();
  });

  it('resolves with the error for a program that cannot be started', async () => {
    const child = spawn('vireo-no-such-program-x', [], { stdio: 'ignore' });
    expect(await spawnOutcome(child)).toMatchObject({ code: 'ENOENT' });
  });
});

describe('exitOf', () => {
  it('settles when the child exits, and at once for a child that already has', async () => {
    const child = spawn(process.execPath, ['-e', 'process.exit(3)'], { stdio: 'ignore' });
    await exitOf(child);
    expect(child.exitCode).toBe(3);
    await expect(exitOf(child)).resolves.toBeUndefined();
  });
});

describe('stopBySignals', () => {
  it('stops at the first signal the process obeys', async () => {
    const child = await startChild({ ignoreTerm: false });
    const escalations: string[] = [];
    const outcome = await stopBySignals(
      targetOf(child),
      [
        ['SIGTERM', 60_000],
        ['SIGKILL', 60_000],
      ],
      { onEscalate: (from, to) => escalations.push(`${from}->${to}`) },
    );
    expect(outcome).toBe('SIGTERM');
    expect(child.signalCode).toBe('SIGTERM');
    expect(escalations).toEqual([]);
  });

  it('escalates when the process ignores a signal, and says so', async () => {
    const child = await startChild({ ignoreTerm: true });
    const escalations: string[] = [];
    const outcome = await stopBySignals(
      targetOf(child),
      [
        ['SIGTERM', 200],
        ['SIGKILL', 60_000],
      ],
      { onEscalate: (from, to) => escalations.push(`${from}->${to}`) },
    );
    expect(outcome).toBe('SIGKILL');
    expect(child.signalCode).toBe('SIGKILL');
    expect(escalations).toEqual(['SIGTERM->SIGKILL']);
  });

  it('reports a process that outlives every step', async () => {
    const child = await startChild({ ignoreTerm: true });
    expect(await stopBySignals(targetOf(child), [['SIGTERM', 200]])).toBe('survived');
    expect(await processAlive(child.pid!)).toBe(true);
  });

  it('answers gone when there is nothing to signal', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await exitOf(child);
    expect(await stopProcess(child.pid!, [['SIGTERM', 60_000]])).toBe('gone');
  });
});

describe('livePidFromFile', () => {
  let directory: string | undefined;
  afterEach(async () => {
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  it('names a living process only when it is ours', async () => {
    directory = await mkdtemp(join(tmpdir(), 'vireo-pid-'));
    const pidFile = join(directory, 'service.pid');
    const child = await startChild({ ignoreTerm: false, marker: 'vireo-marker-42' });
    await writeFile(pidFile, `${child.pid}\n`);
    expect(await livePidFromFile(pidFile, (line) => line.includes('vireo-marker-42'))).toBe(child.pid);
    expect(await livePidFromFile(pidFile, (line) => line.includes('prometheus'))).toBeUndefined();
    expect(await stopProcess(child.pid!, [['SIGTERM', 60_000]])).toBe('SIGTERM');
    expect(await livePidFromFile(pidFile, (line) => line.includes('vireo-marker-42'))).toBeUndefined();
  });

  it('ignores a missing or damaged pid file', async () => {
    directory = await mkdtemp(join(tmpdir(), 'vireo-pid-'));
    expect(await livePidFromFile(join(directory, 'none.pid'), () => true)).toBeUndefined();
    await writeFile(join(directory, 'bad.pid'), 'not a pid\n');
    expect(await livePidFromFile(join(directory, 'bad.pid'), () => true)).toBeUndefined();
    await writeFile(join(directory, 'group.pid'), '-1\n');
    expect(await livePidFromFile(join(directory, 'group.pid'), () => true)).toBeUndefined();
  });
});
