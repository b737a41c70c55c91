import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';

// Real processes: on a loaded machine, starting Node (and tsx) can take far longer than the 5 s
// default. The tests wait for outcomes (a line printed, an exit status), never for a duration.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const MAIN = fileURLToPath(new URL('./demo-service-main.ts', import.meta.url));

interface Running {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Runs the entry point as a real program (TypeScript through tsx, as `node dist/…` runs the build). */
function run(env: Record<string, string>): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function listeningUrl(running: Running): Promise<string> {
  await expect
    .poll(running.stdout, { timeout: 90_000, interval: 100 })
    .toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+\n/);
  return running.stdout().slice('listening on '.length).trim();
}

describe('demo-service-main (the runnable program)', () => {
  it('prints where it listens and serves its VERSION', async () => {
    const running = run({ PORT: '0', VERSION: '7.0.0' });
    const url = await listeningUrl(running);
    const response = await request(`${url}/version`);
    expect(response.headers['x-version']).toBe('7.0.0');
    expect(await response.body.json()).toEqual({ version: '7.0.0' });
  });

  it('finishes an in-flight /delay/1 on SIGTERM, then exits 0', async () => {
    const running = run({ PORT: '0' });
    const url = await listeningUrl(running);
    const inFlight = request(`${url}/delay/1`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // A barrier: once a later request is answered, the server has accepted the delayed one.
    expect((await request(`${url}/healthz`)).statusCode).toBe(200);
    running.child.kill('SIGTERM');
    const response = await inFlight;
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toEqual({ delay: 1 });
    expect(await running.exited).toEqual({ code: 0, signal: null });
    expect(running.stderr()).toContain('SIGTERM, finishing in-flight requests');
  });

  it('exits 0 on SIGINT too', async () => {
    const running = run({});
    await listeningUrl(running);
    running.child.kill('SIGINT');
    expect(await running.exited).toEqual({ code: 0, signal: null });
  });

  it.each([
    ['ERROR_RATE', '2'],
    ['LATENCY', 'abc'],
  ])('exits 2 on %s=%s with a message naming the variable', async (variable, value) => {
    const running = run({ [variable]: value });
    expect(await running.exited).toEqual({ code: 2, signal: null });
    expect(running.stderr()).toMatch(new RegExp(`^demo-service: ${variable} must be .*got "${value}"\\n$`));
    expect(running.stdout()).toBe('');
  });
});
