/**
 * What `vireo demo` says in the terminal (issue 13 item 9): which router and measurements it
 * uses, that only errors reach the on-call webhook while every alert is shown, why V2's 600 ms
 * answers read close to 1 s, and how many canary requests each check judged.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const repository = join(import.meta.dirname, '..', '..');

describe('vireo demo (text)', () => {
  let output: string;
  let exitCode: number | null;

  beforeAll(() => {
    const result = spawnSync(process.execPath, ['bin/vireo.js', 'demo'], {
      cwd: repository,
      encoding: 'utf8',
      timeout: 170_000,
    });
    exitCode = result.status;
    output = result.stdout;
    if (result.status !== 0) console.error(result.stderr, result.stdout.slice(-3000));
  }, 180_000);

  it('names its router and says where alerts go', () => {
    expect(exitCode).toBe(0);
    expect(output).toContain("Routing and measuring: Vireo's built-in router.");
    expect(output).toContain('the on-call webhook is subscribed to severity error only');
  });

  it('counts the ALERT lines it showed and the ones the webhook received', () => {
    const shown = output.split('\n').filter((line) => / ALERT /.test(line));
    const errors = shown.filter((line) => line.includes('ALERT error:'));
    expect(errors.length).toBeGreaterThan(0);
    for (const line of errors) expect(line).toContain('(sent to the on-call webhook)');
    for (const line of shown.filter((alert) => !alert.includes('ALERT error:')))
      expect(line).toContain('(shown here only)');
    expect(output).toContain(`Alerts raised: ${shown.length} (`);
    expect(output).toMatch(
      new RegExp(`the on-call webhook, subscribed to severity error, received ${errors.length} `),
    );
  });

  it('explains why 600 ms answers read close to 1 s', () => {
    expect(output).toContain('600 ms answers land in that bucket, and the p99 is interpolated inside it');
  });

  it('shows how many canary requests each check judged', () => {
    expect(output).toMatch(
      /✓ request-success-rate .*\(canary answered \d+ request\(s\) since the last step\)/,
    );
  });
});

describe('vireo demo --router nginx (text)', () => {
  it('names nginx and Prometheus in its banner', async () => {
    const demo = spawn(process.execPath, ['bin/vireo.js', 'demo', '--router', 'nginx'], {
      cwd: repository,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    demo.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = once(demo, 'exit');
    try {
      await expect.poll(() => stdout.includes('Time runs'), { timeout: 60_000 }).toBe(true);
      expect(stdout).toContain('Routing: real nginx, configured and reloaded by Vireo.');
      expect(stdout).toContain('Measuring: a real Prometheus scraping the replicas.');
    } finally {
      // The demo cleans up on SIGINT (test/e2e/demo-signals.test.ts).
      demo.kill('SIGINT');
      await exited;
    }
  }, 120_000);
});
