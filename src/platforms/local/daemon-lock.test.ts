/**
 * The state directory's lock, with real processes: a live holder refuses a second daemon, a dead
 * holder's lock is taken over, and of several processes taking over one stale lock at once,
 * exactly one wins.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { acquireDaemonLock, DaemonRunningError, liveHolder, LOCK_FILE } from './daemon-lock.js';

// Real processes on a loaded machine: starting Node with tsx can take many seconds.
vi.setConfig({ testTimeout: 120_000 });

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function directory(): string {
  const made = mkdtempSync(join(tmpdir(), 'vireo-lock-'));
  directories.push(made);
  return made;
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(child.stdout);
}

describe('acquireDaemonLock', () => {
  it('refuses while the holder lives, naming it, and is free again once released', async () => {
    const state = directory();
    const lock = await acquireDaemonLock(state);
    const refused = await acquireDaemonLock(state).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DaemonRunningError);
    expect((refused as Error).message).toContain(`(pid ${process.pid})`);
    expect(await liveHolder(state)).toMatchObject({ pid: process.pid });
    await lock.release();
    expect(await liveHolder(state)).toBeUndefined();
    await (await acquireDaemonLock(state)).release();
  });

  it('takes over the lock of a holder that died', async () => {
    const state = directory();
    writeFileSync(join(state, LOCK_FILE), JSON.stringify({ pid: deadPid() }));
    const lock = await acquireDaemonLock(state);
    expect(lock.holder.pid).toBe(process.pid);
    await lock.release();
  });

  it('gives a stale lock to exactly one of several processes taking it at once', async () => {
    const state = directory();
    writeFileSync(join(state, LOCK_FILE), JSON.stringify({ pid: deadPid() }));
    const module = new URL('./daemon-lock.ts', import.meta.url).href;
    // Each waits for a start file, then tries; the winner holds the lock until told to exit.
    const script = `
      const { existsSync } = await import('node:fs');
      const { acquireDaemonLock } = await import(${JSON.stringify(module)});
      while (!existsSync(process.argv[1] + '/go')) await new Promise((r) => setTimeout(r, 5));
      try {
        await acquireDaemonLock(process.argv[1]);
        console.log('won');
        process.stdin.resume();
        process.stdin.on('end', () => process.exit(0));
      } catch (error) {
        console.log(error.code);
      }`;
    const contenders = Array.from({ length: 4 }, () => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, state], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      return { child, output: () => output.trim() };
    });
    try {
      // Those already loaded start together; a late one finds the winner's lock: one winner either way.
      writeFileSync(join(state, 'go'), '');
      await expect
        .poll(() => contenders.every((contender) => contender.output() !== ''), {
          timeout: 90_000,
          interval: 100,
        })
        .toBe(true);
      const outputs = contenders.map((contender) => contender.output()).sort();
      expect(outputs).toEqual([
        'E_LOCAL_DAEMON_RUNNING',
        'E_LOCAL_DAEMON_RUNNING',
        'E_LOCAL_DAEMON_RUNNING',
        'won',
      ]);
    } finally {
      for (const { child } of contenders) {
        child.stdin?.end();
        if (child.exitCode === null) await once(child, 'exit');
      }
    }
  });
});
