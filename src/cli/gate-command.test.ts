import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeIo } from '../../test/support/fake-io.js';
import { buildLoadtester } from '../loadtester/server.js';
import { createLogger } from '../shared/logger.js';
import { runGate } from './gate-command.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** A real loadtester on loopback, with a token as it would run in a cluster. */
async function loadtester(token: string): Promise<string> {
  const app = await buildLoadtester({
    settings: { token, stateFile: join(mkdtempSync(join(tmpdir(), 'vireo-gate-cli-')), 'gates.json') },
    logger: createLogger({ level: 'silent' }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  closers.push(() => app.close());
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

describe('vireo gate', () => {
  it('withdraws a rollback request with cancel-rollback (Flagger’s /rollback/close)', async () => {
    const url = await loadtester('gate-token');
    const options = { loadtester: url, token: 'gate-token' };
    const status = async (): Promise<string> => {
      const { io, stdout } = fakeIo();
      expect(await runGate('status', 'podinfo.test', options, io)).toBe(0);
      return stdout();
    };

    const requested = fakeIo();
    expect(await runGate('rollback', 'podinfo.test', options, requested.io)).toBe(0);
    expect(requested.stdout()).toBe(
      'rollback gate of podinfo.test rollback requested: the next rollback check rolls the canary back (HTTP 202)\n',
    );
    expect(await status()).toContain('rollback of podinfo.test: requested');

    const withdrawn = fakeIo();
    expect(await runGate('cancel-rollback', 'podinfo.test', options, withdrawn.io)).toBe(0);
    expect(withdrawn.stdout()).toBe(
      'rollback gate of podinfo.test rollback request withdrawn: rollback checks no longer roll the canary back (HTTP 202)\n',
    );
    expect(await status()).toBe('gate of podinfo.test: closed\nrollback of podinfo.test: not requested\n');
  });

  it('names the actions it knows', async () => {
    await expect(
      runGate('uncancel', 'podinfo.test', { loadtester: 'http://127.0.0.1:1' }, fakeIo().io),
    ).rejects.toThrow(
      'unknown gate action "uncancel": use one of open, close, approve, halt, rollback, cancel-rollback, status',
    );
  });
});
