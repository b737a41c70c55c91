import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSystemClock } from './clock.js';
import { commandEnvironment, describeFailure, SpawnProcessRunner, succeeded } from './runner.js';

const clock = createSystemClock();
const node = process.execPath;

/** Running, as opposed to gone or a zombie waiting for whichever init reaps it. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await clock.sleep(20);
  }
}

describe('SpawnProcessRunner', () => {
  it('captures standard output and standard error together, and the exit code', async () => {
    const runner = new SpawnProcessRunner({ clock });
    const result = await runner.run(
      [node, '-e', "process.stdout.write('out;'); process.stderr.write('err'); process.exitCode = 3"],
      { timeoutMs: 10_000 },
    );
    expect(result.exitCode).toBe(3);
    expect(result.output).toContain('out;');
    expect(result.output).toContain('err');
    expect(succeeded(result)).toBe(false);
    expect(describeFailure(result, 10_000)).toBe('exit status 3');
  });

  it('passes arguments verbatim, with no shell to interpret them', async () => {
    const runner = new SpawnProcessRunner({ clock });
    const result = await runner.run(
      [node, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', '$(id); `id` | >x'],
      { timeoutMs: 10_000 },
    );
    expect(succeeded(result)).toBe(true);
    expect(JSON.parse(result.output)).toEqual(['$(id); `id` | >x']);
  });

  it('reports a program that does not exist', async () => {
    const result = await new SpawnProcessRunner({ clock }).run(['vireo-no-such-program-x'], {
      timeoutMs: 1_000,
    });
    expect(result.startError).toBe('vireo-no-such-program-x: command not found');
    expect(succeeded(result)).toBe(false);
  });

  it('kills a command at its timeout', async () => {
    const result = await new SpawnProcessRunner({ clock }).run(['sleep', '30'], { timeoutMs: 200 });
    expect(result.timedOut).toBe(true);
    expect(result.durationMs).toBeLessThan(5_000);
    expect(describeFailure(result, 200)).toBe('killed after the 200ms timeout');
  });

  it('kills the whole process group on abort, including what the command started', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'vireo-runner-'));
    const pidFile = join(directory, 'grandchild.pid');
    const controller = new AbortController();
    const running = new SpawnProcessRunner({ clock, killGraceMs: 500 }).run(
      ['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`],
      { timeoutMs: 60_000, signal: controller.signal },
    );
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 5_000);
    const grandchild = Number(readFileSync(pidFile, 'utf8').trim());
    expect(isAlive(grandchild)).toBe(true);
    controller.abort();
    const result = await running;
    expect(result.aborted).toBe(true);
    await waitFor(() => !isAlive(grandchild), 3_000);
  });

  it('keeps at most maxOutputBytes of output and says how much was dropped', async () => {
    const result = await new SpawnProcessRunner({ clock, maxOutputBytes: 10 }).run(
      [node, '-e', "process.stdout.write('x'.repeat(100))"],
      { timeoutMs: 10_000 },
    );
    expect(result.output).toBe(`${'x'.repeat(10)}\n[output truncated: 90 more bytes]`);
  });

  it('does not hand the loadtester token to commands', async () => {
    const env = commandEnvironment({ PATH: process.env['PATH'], VIREO_LOADTESTER_TOKEN: 'hunter2-token' });
    const result = await new SpawnProcessRunner({ clock, env }).run(
      [node, '-e', "process.stdout.write(String(process.env.VIREO_LOADTESTER_TOKEN ?? 'absent'))"],
      { timeoutMs: 10_000 },
    );
    expect(result.output).toBe('absent');
  });
});
