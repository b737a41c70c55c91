import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { diagnoseWorkload, lastLogLine } from './diagnosis.js';
import { windowSinceRevision } from './runtime.js';
import type { ReplicaStatus, WorkloadStatus } from './supervisor.js';

const directories: string[] = [];
afterEach(async () => {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

async function logs(lines: string): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'vireo-diagnosis-'));
  directories.push(directory);
  await writeFile(join(directory, 'web-0.log'), lines);
  return directory;
}

const replica = (fields: Partial<ReplicaStatus>): ReplicaStatus => ({
  index: 0,
  pid: 10,
  port: 4000,
  url: 'http://127.0.0.1:4000',
  ready: false,
  restarts: 0,
  state: 'running',
  specHash: 'a',
  ...fields,
});

const set = (replicas: ReplicaStatus[], fields: Partial<WorkloadStatus> = {}): WorkloadStatus => ({
  replicas,
  ready: replicas.filter((candidate) => candidate.ready).length,
  desired: 1,
  specHash: 'a',
  rolling: false,
  ...fields,
});

describe('diagnoseWorkload', () => {
  it('quotes the error line of a crashing Node program, not its version trailer', async () => {
    const directory = await logs(
      "node:internal/modules/cjs/loader:1228\nError: Cannot find module '/srv/server.js'\n    at Module._resolveFilename (x)\n\nNode.js v20.20.2\n",
    );
    expect(lastLogLine(directory, 'web', 0)).toBe("Error: Cannot find module '/srv/server.js'");
    const exit = { code: 1, signal: null, at: new Date(0) };
    expect(
      diagnoseWorkload('web', set([replica({ restarts: 1, lastExit: exit, state: 'backoff' })]), directory),
    ).toEqual({
      fatal: false,
      message: `workload "web": replica 0 exited with code 1 (1 restart so far); its last output: Error: Cannot find module '/srv/server.js'; see ${join(directory, 'web-0.log')}`,
    });
    expect(diagnoseWorkload('web', set([replica({ restarts: 2, lastExit: exit })]), directory)?.fatal).toBe(
      true,
    );
  });

  it('says why a running replica is not ready, and nothing once all are', async () => {
    const directory = await logs('');
    const waiting = replica({ notReady: 'GET http://127.0.0.1:4000/readyz answered 503' });
    expect(diagnoseWorkload('web', set([waiting]), directory)).toEqual({
      fatal: false,
      message:
        'workload "web": 0 of 1 replicas ready; replica 0 (pid 10): GET http://127.0.0.1:4000/readyz answered 503',
    });
    expect(diagnoseWorkload('web', set([replica({ ready: true })]), directory)).toBeUndefined();
    expect(diagnoseWorkload('web', set([], { error: 'cannot start' }), directory)).toEqual({
      fatal: true,
      message: 'cannot start',
    });
  });
});

describe('windowSinceRevision', () => {
  it('starts the window no earlier than the revision run, in whole seconds', () => {
    expect(windowSinceRevision('1m', undefined, 100_000)).toBe('1m');
    expect(windowSinceRevision('1m', 0, 100_000)).toBe('1m');
    expect(windowSinceRevision('1m', 90_000, 100_000)).toBe('10s');
    expect(windowSinceRevision('1m', 99_900, 100_000)).toBe('1s');
  });
});
