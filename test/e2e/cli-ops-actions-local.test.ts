/**
 * `vireo pause|resume|abort|retry|promote --local` with the built binary and real processes
 * (docs/cli-operations.md "Acting on a canary"): the daemon honours each request on its next tick,
 * once, and records it with who asked and why. Progress is judged by the daemon's own ticks (its
 * events log), never by elapsed time.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { findFreePort } from '../../src/platforms/local/supervisor.js';

vi.setConfig({ testTimeout: 600_000 });

const repository = join(import.meta.dirname, '..', '..');
const stateDirectory = mkdtempSync(join(tmpdir(), 'vireo-actions-e2e-'));
const env = { ...process.env, VIREO_STATE_DIR: stateDirectory };

function vireo(...args: string[]) {
  return spawnSync(process.execPath, ['bin/vireo.js', ...args], {
    cwd: repository,
    encoding: 'utf8',
    env,
    timeout: 120_000,
  });
}

/** The binary without blocking this process (the traffic loop keeps running). */
function vireoAsync(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/vireo.js', ...args], { cwd: repository, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

afterAll(() => {
  vireo('local', 'down');
  rmSync(stateDirectory, { recursive: true, force: true });
});

interface Shown {
  phase: string;
  weight: number;
  failedChecks: number;
  done: string | undefined;
}

function canary(): Shown {
  const listed = vireo('get', 'canaries', 'web', '-n', 'local', '--local', '-o', 'json');
  const object = JSON.parse(listed.stdout || '{}') as {
    metadata?: { annotations?: Record<string, string> };
    status?: { phase?: string; canaryWeight?: number; failedChecks?: number };
  };
  return {
    phase: object.status?.phase ?? '',
    weight: object.status?.canaryWeight ?? 0,
    failedChecks: object.status?.failedChecks ?? 0,
    done: object.metadata?.annotations?.['vireo.dev/request-done'],
  };
}

function eventsLog(kind: 'events' | 'alerts'): { message?: string; text?: string; severity?: string }[] {
  let text: string;
  try {
    text = readFileSync(join(stateDirectory, `${kind}.log`), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { message?: string; text?: string; severity?: string });
}

function act(action: string, reason: string, ...extra: string[]) {
  const run = vireo(action, 'web', '-n', 'local', '--local', '--reason', reason, '--yes', ...extra);
  expect(run.status, run.stderr).toBe(0);
  const id = /\(id ([0-9a-f-]+)\)/.exec(run.stdout)?.[1];
  expect(id, run.stdout).toBeDefined();
  return id!;
}

describe('operations actions in local mode, end to end', () => {
  it('pause holds, resume continues, abort rolls back with an alert, retry reruns, promote completes; all in explain', async () => {
    const port = await findFreePort();
    const manifest = readFileSync(join(repository, 'examples', 'local', 'web.yaml'), 'utf8')
      .replace('port: 8080', `port: ${port}`)
      .replace('../../dist/', `${repository}/dist/`)
      // Many small steps: the analysis is still under way when each action comes.
      .replace('maxWeight: 50', 'maxWeight: 90')
      .replace('stepWeight: 10', 'stepWeight: 5');
    const file = join(stateDirectory, 'web.yaml');
    writeFileSync(file, manifest);
    expect(vireo('local', 'apply', '-f', file).status).toBe(0);
    await expect.poll(() => canary().phase, { timeout: 120_000, interval: 500 }).toBe('Initialized');

    let stopped = false;
    const traffic = (async () => {
      while (!stopped) {
        await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      writeFileSync(file, manifest.replace("VERSION: '1.0.0'", "VERSION: '2.0.0'"));
      expect(vireo('local', 'apply', '-f', file, '--no-wait').status).toBe(0);
      await expect.poll(() => canary().weight, { timeout: 180_000, interval: 500 }).toBeGreaterThan(0);

      // pause: answered, then the weight holds over three of the daemon's ticks, counting no failure.
      const pause = act('pause', 'hold for the load test');
      await expect.poll(() => canary().done, { timeout: 120_000, interval: 500 }).toBe(pause);
      const held = canary();
      const skipped = () =>
        eventsLog('events').filter((e) => e.message === 'skipping canary run as object is suspended').length;
      const before = skipped();
      await expect.poll(skipped, { timeout: 180_000, interval: 1000 }).toBeGreaterThanOrEqual(before + 3);
      expect(canary()).toMatchObject({ phase: held.phase, weight: held.weight, failedChecks: 0 });

      // resume: the analysis goes on from the held weight.
      const resume = act('resume', 'load test done');
      await expect.poll(() => canary().done, { timeout: 120_000, interval: 500 }).toBe(resume);
      await expect
        .poll(() => canary().weight, { timeout: 120_000, interval: 500 })
        .toBeGreaterThan(held.weight);

      // abort: rolled back by the tick that answers it, with the rollback alert.
      const abort = act('abort', 'latency looks wrong');
      await expect.poll(() => canary().done, { timeout: 120_000, interval: 500 }).toBe(abort);
      expect(canary()).toMatchObject({ phase: 'Failed', weight: 0 });
      expect(eventsLog('alerts').map((a) => a.text ?? a.message)).toContainEqual(
        expect.stringContaining('Rolling back: abort requested by'),
      );

      // retry: the same revision is analysed again, without a new apply.
      const retry = act('retry', 'it was the load balancer');
      await expect.poll(() => canary().done, { timeout: 120_000, interval: 500 }).toBe(retry);
      expect(['Progressing', 'Waiting']).toContain(canary().phase);

      // promote --wait: progress lines, then Succeeded, exit 0.
      const promote = await vireoAsync(
        'promote',
        'web',
        '-n',
        'local',
        '--local',
        '--reason',
        'ship it',
        '--yes',
        '--wait',
        '--timeout',
        '5m',
      );
      expect(promote.status, promote.stderr).toBe(0);
      expect(promote.stdout).toMatch(/answered: Promoting web\.local without further checks/);
      expect(promote.stdout).toMatch(/promote: Succeeded\n$/);
      expect(canary().phase).toBe('Succeeded');
    } finally {
      stopped = true;
      await traffic;
    }

    const explain = vireo('explain', 'web', '-n', 'local', '--local', '-o', 'json');
    expect(explain.status, explain.stderr).toBe(0);
    const decisions = JSON.parse(explain.stdout) as {
      action: string;
      request?: { action: string; reason: string; by: string };
    }[];
    const requests = decisions.filter((decision) => decision.action === 'request');
    expect(requests.map((decision) => [decision.request?.action, decision.request?.reason])).toEqual([
      ['pause', 'hold for the load test'],
      ['resume', 'load test done'],
      ['abort', 'latency looks wrong'],
      ['retry', 'it was the load balancer'],
      ['promote', 'ship it'],
    ]);
    // Each acting request is followed by its action, with no check in between.
    const after = (action: string) =>
      decisions[decisions.findIndex((d) => d.request?.action === action) + 1]?.action;
    expect(after('abort')).toBe('rollback');
    expect(after('retry')).toBe('start');
    expect(after('promote')).toBe('skip-analysis');
    const timeline = vireo('explain', 'web', '-n', 'local', '--local').stdout;
    expect(timeline).toMatch(/ request: Paused web\.local: pause requested by .+ \(hold for the load test\)/);
    expect(timeline).toMatch(/requested by .+: ship it/);
  });
});
