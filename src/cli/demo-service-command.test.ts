import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { runDemoServiceCommand } from './demo-service-command.js';
import type { CliIo } from './main.js';

function fakeIo() {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    readStdin: () => Promise.resolve(''),
  };
  return { io, stdout: () => stdout, stderr: () => stderr };
}

describe('vireo demo-service', () => {
  it('serves the configured version until SIGTERM, then exits 0', async () => {
    const { io, stdout, stderr } = fakeIo();
    const signals = new EventEmitter();
    const exit = runDemoServiceCommand(io, {
      env: { PORT: '0', VERSION: '2.0.0' },
      signals: signals as unknown as Pick<NodeJS.Process, 'once' | 'off'>,
    });
    const deadline = Date.now() + 20_000;
    while (!stdout().includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const url = /^listening on (http:\/\/127\.0\.0\.1:\d+)\n$/.exec(stdout())?.[1];
    expect(url, stdout()).toBeDefined();
    const answer = await fetch(`${url}/`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-version')).toBe('2.0.0');
    signals.emit('SIGTERM');
    expect(await exit).toBe(0);
    expect(stderr()).toContain('SIGTERM, finishing in-flight requests');
    expect(signals.listenerCount('SIGINT')).toBe(0);
  });

  it('exits 2 naming the variable when the configuration is bad', async () => {
    const { io, stderr } = fakeIo();
    const signals = new EventEmitter();
    expect(
      await runDemoServiceCommand(io, {
        env: { ERROR_RATE: '2' },
        signals: signals as unknown as Pick<NodeJS.Process, 'once' | 'off'>,
      }),
    ).toBe(2);
    expect(stderr()).toMatch(/^demo-service: ERROR_RATE must be a number from 0 to 1/);
  });
});
