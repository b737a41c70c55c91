/**
 * `vireo demo` stopped by Ctrl-C (SIGINT) or SIGTERM while its processes run, with the built
 * binary: it exits 130 or 143 and leaves no process behind: no replica, and with `--router
 * nginx` no nginx, Prometheus or hey. Processes are recognised by an environment variable only
 * this test's demo passes down, so parallel runs on the machine do not confuse it.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { processAlive } from '../../src/platforms/local/process-group.js';

vi.setConfig({ testTimeout: 180_000 });

const repository = join(import.meta.dirname, '..', '..');

/** Living processes carrying `mark` in their environment, with their command names. */
async function marked(mark: string): Promise<{ pid: number; command: string; replica: boolean }[]> {
  const found: { pid: number; command: string; replica: boolean }[] = [];
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let environment: string[];
    let command: string;
    try {
      environment = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    if (environment.includes(mark) && (await processAlive(Number(entry)))) {
      const replica = environment.some((variable) => variable.startsWith('VIREO_WORKLOAD='));
      found.push({ pid: Number(entry), command, replica });
    }
  }
  return found;
}

describe.each([
  ['SIGINT', 'builtin', 130],
  ['SIGTERM', 'builtin', 143],
  ['SIGTERM', 'nginx', 143],
] as const)('vireo demo stopped by %s (--router %s)', (signal, router, code) => {
  it(`exits ${code} and leaves no process it started`, async () => {
    const mark = `VIREO_TEST_DEMO_RUN=${randomUUID()}`;
    const [name, value] = mark.split('=') as [string, string];
    const demo = spawn(process.execPath, ['bin/vireo.js', 'demo', '--json', '--router', router], {
      cwd: repository,
      env: { ...process.env, [name]: value },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    demo.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    demo.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(demo, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      // Mid-demo: the faulty V2 has been released, so both the primary's and the canary's replicas run.
      await expect
        .poll(() => stdout.includes('"version":"2.0.0"'), { timeout: 120_000, interval: 250 })
        .toBe(true);
      await expect
        .poll(async () => (await marked(mark)).filter((process) => process.replica).length, {
          timeout: 60_000,
          interval: 250,
        })
        .toBeGreaterThanOrEqual(2);
      if (router === 'nginx') {
        const commands = (await marked(mark)).map((process) => process.command);
        expect(commands.some((command) => command.includes('nginx'))).toBe(true);
        expect(commands.some((command) => command.includes('prometheus'))).toBe(true);
      }

      demo.kill(signal);
      const [exitCode] = await exited;
      expect(exitCode, stderr).toBe(code);
      expect(stderr).toContain(`vireo demo: stopped by ${signal}; every process it started has exited`);
      expect(await marked(mark)).toEqual([]);
    } finally {
      if (demo.exitCode === null) demo.kill('SIGKILL');
    }
  });
});
