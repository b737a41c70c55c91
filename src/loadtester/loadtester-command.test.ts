import { spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { runLoadtester } from '../cli/loadtester-command.js';
import { runCli } from '../cli/main.js';
import { createSystemClock } from './clock.js';
import { fakeIo } from '../../test/support/fake-io.js';

const clock = createSystemClock();

async function eventually<T>(read: () => T | undefined, ms = 5_000): Promise<T> {
  const until = clock.monotonic() + ms;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (clock.monotonic() > until) throw new Error(`nothing within ${ms}ms`);
    await clock.sleep(20);
  }
}

describe('vireo loadtester', () => {
  it('logs "listening on" with the port it picked, serves, and stops cleanly on SIGTERM', async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), 'vireo-loadtester-cli-')), 'gates.json');
    const lines: string[] = [];
    const signals = new EventEmitter();
    const exit = runLoadtester(
      { port: '0', host: '127.0.0.1', stateFile, token: 'cli-secret-token' },
      fakeIo().io,
      {
        env: {},
        signals: signals as unknown as Pick<NodeJS.Process, 'once' | 'off'>,
        logDestination: { write: (line: string) => lines.push(line) },
      },
    );
    const listening = await eventually(() =>
      lines
        .map((line) => JSON.parse(line) as { msg: string; port?: number })
        .find((entry) => entry.msg.startsWith('listening on')),
    );
    expect(listening.msg).toBe(`listening on http://127.0.0.1:${listening.port}`);
    expect(listening.port).toBeGreaterThan(0);

    const base = `http://127.0.0.1:${listening.port}`;
    expect((await request(`${base}/healthz`)).statusCode).toBe(200);
    const opened = await request(`${base}/gate/open`, {
      method: 'POST',
      headers: { authorization: 'Bearer cli-secret-token', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'podinfo', namespace: 'test' }),
    });
    expect(opened.statusCode).toBe(202);
    await opened.body.dump();

    signals.emit('SIGTERM');
    expect(await exit).toBe(0);
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toEqual({ version: 1, open: ['podinfo.test'] });
    expect(lines.some((line) => line.includes('"msg":"loadtester stopped"'))).toBe(true);
    expect(lines.join('')).not.toContain('cli-secret-token');
    await expect(request(`${base}/healthz`)).rejects.toThrow();
  });

  it('runs as a process that exits 0 on SIGTERM and on SIGINT', { timeout: 20_000 }, async () => {
    const repository = join(import.meta.dirname, '..', '..');
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const stateFile = join(mkdtempSync(join(tmpdir(), 'vireo-loadtester-cli-')), 'gates.json');
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '-e',
          "const { runCli } = await import('./src/cli/main.ts'); process.exitCode = await runCli(process.argv);",
          'vireo',
          'loadtester',
          '--port=0',
          '--host=127.0.0.1',
          `--state-file=${stateFile}`,
        ],
        {
          cwd: repository,
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { ...process.env, VIREO_LOADTESTER_TOKEN: '' },
        },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      try {
        const port = await eventually(
          () => /"listening on http:\/\/127\.0\.0\.1:(\d+)"/.exec(stderr)?.[1],
          10_000,
        );
        expect((await request(`http://127.0.0.1:${port}/healthz`)).statusCode).toBe(200);
        const exited = once(child, 'exit');
        child.kill(signal);
        const [code] = (await exited) as [number | null];
        expect(code).toBe(0);
        expect(stderr).toContain('"msg":"loadtester stopped"');
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
  });

  it('exits 2 with the flag named for a usage mistake', async () => {
    const { io, stderr } = fakeIo();
    expect(await runCli(['node', 'vireo', 'loadtester', '--port', 'eighty'], io)).toBe(2);
    expect(stderr()).toBe('vireo: --port must be a whole number from 0 to 65535, got "eighty" [E_USAGE]\n');
  });

  it('refuses to listen beyond loopback without a token, and to run any command without one', async () => {
    const previous = process.env['VIREO_LOADTESTER_TOKEN'];
    delete process.env['VIREO_LOADTESTER_TOKEN'];
    try {
      const wide = fakeIo();
      expect(await runCli(['node', 'vireo', 'loadtester', '--host', '0.0.0.0', '--port', '0'], wide.io)).toBe(
        2,
      );
      expect(wide.stderr()).toContain(
        '--host 0.0.0.0 without a token would let anyone who reaches that address run tasks and open gates',
      );
      const unsafe = fakeIo();
      expect(
        await runCli(
          ['node', 'vireo', 'loadtester', '--host', '127.0.0.1', '--allow-any-command'],
          unsafe.io,
        ),
      ).toBe(2);
      expect(unsafe.stderr()).toContain(
        '--allow-any-command runs any command for whoever calls the loadtester',
      );
    } finally {
      if (previous !== undefined) process.env['VIREO_LOADTESTER_TOKEN'] = previous;
    }
  });

  it('lists its options in --help', async () => {
    const { io, stdout } = fakeIo();
    expect(await runCli(['node', 'vireo', 'loadtester', '--help'], io)).toBe(0);
    for (const flag of [
      '--port',
      '--token',
      '--allow-any-command',
      '--allow-command',
      '--allow-target',
      '--no-default-commands',
      '--namespace-regexp',
      '--timeout',
      '--state-file',
      '--max-concurrent',
      '--log-level',
    ]) {
      expect(stdout()).toContain(flag);
    }
  });
});
