import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  isSignalableGroup,
  processAlive,
  processGroupAlive,
  signalProcessGroup,
  stopProcessGroup,
} from './process-group.js';

// Real processes: on a loaded machine, starting Node (and tsx) can take longer than the 5 s default.
vi.setConfig({ testTimeout: 30_000, hookTimeout: 30_000 });

const leaders: ChildProcess[] = [];
afterEach(() => {
  for (const leader of leaders.splice(0))
    if (leader.pid !== undefined) signalProcessGroup(leader.pid, 'SIGKILL');
});

/** A process-group leader running `script` with node. */
async function groupLeader(script: string): Promise<ChildProcess & { pid: number }> {
  const leader = spawn(process.execPath, ['-e', script], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  leaders.push(leader);
  await once(leader, 'spawn');
  return leader as ChildProcess & { pid: number };
}

describe('process groups', () => {
  it('never signals group 0 (our own), 1 or -1 (every process), or a non-integer', () => {
    for (const pgid of [0, 1, -1, -42, 1.5, Number.NaN]) {
      expect([pgid, isSignalableGroup(pgid)]).toEqual([pgid, false]);
      expect(signalProcessGroup(pgid, 0)).toBe(false);
    }
  });

  it("answers 'gone' for a group that no longer exists", async () => {
    const leader = await groupLeader('');
    await once(leader, 'exit');
    expect(await processGroupAlive(leader.pid)).toBe(false);
    expect(await stopProcessGroup(leader.pid)).toBe('gone');
  });

  it("stops a group with SIGTERM ('terminated'), grandchildren included", async () => {
    const leader = await groupLeader(`
      const child = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      console.log(child.pid);
      setInterval(() => {}, 1000);
    `);
    const [line] = (await once(leader.stdout!, 'data')) as [Buffer];
    const grandchild = Number(line.toString().trim());
    expect(await processAlive(grandchild)).toBe(true);
    expect(await stopProcessGroup(leader.pid, { leaderExited: once(leader, 'exit') })).toBe('terminated');
    expect(await processAlive(leader.pid)).toBe(false);
    expect(await processAlive(grandchild)).toBe(false);
    expect(await processGroupAlive(leader.pid)).toBe(false);
  });

  it("SIGKILLs a group that ignores SIGTERM after the grace period ('killed')", async () => {
    const leader = await groupLeader(
      `process.on('SIGTERM', () => {}); console.log('armed'); setInterval(() => {}, 1000);`,
    );
    await once(leader.stdout!, 'data');
    const exited = once(leader, 'exit');
    expect(await stopProcessGroup(leader.pid, { graceMs: 200, leaderExited: exited })).toBe('killed');
    expect(await exited).toEqual([null, 'SIGKILL']);
  });

  it('counts exited members as gone even when nobody reaps them', async () => {
    // The leader exits at once; its background child exits a moment later, an orphan. Where pid 1
    // does not reap orphans (some containers), it stays a zombie, and kill(-pgid, 0) still succeeds.
    const leader = spawn('sh', ['-c', 'sleep 0.2 & echo $!'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    leaders.push(leader);
    const [line] = (await once(leader.stdout, 'data')) as [Buffer];
    const orphan = Number(line.toString().trim());
    await once(leader, 'exit');
    await expect.poll(() => processAlive(orphan), { timeout: 5_000 }).toBe(false);
    expect(await processGroupAlive(leader.pid!)).toBe(false);
    expect(await stopProcessGroup(leader.pid!, { graceMs: 5_000 })).not.toBe('killed');
  });
});
