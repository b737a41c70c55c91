import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Decision } from './decisions.js';
import { FileDecisionLog } from './file-decision-log.js';

const key = { namespace: 'test', name: 'podinfo' };
const decision = (n: number): Decision => ({
  time: `2026-11-23T10:00:${String(n).padStart(2, '0')}Z`,
  canary: 'podinfo.test',
  action: 'advance',
  phase: 'Progressing',
  message: `Advance podinfo.test canary weight ${n}`,
  canaryWeight: n,
  primaryWeight: 100 - n,
  iteration: 0,
  failedChecks: 0,
  threshold: 5,
  next: 'next step in 1m',
});

describe('FileDecisionLog', () => {
  it('keeps the last records of each canary where another process can read them', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'vireo-decisions-'));
    const log = new FileDecisionLog(directory, 3);
    await Promise.all([1, 2, 3, 4, 5].map((n) => log.record(key, decision(n))));
    expect((await log.recent(key)).map((entry) => entry.canaryWeight)).toEqual([3, 4, 5]);
    const fromAnotherProcess = new FileDecisionLog(directory, 3);
    expect((await fromAnotherProcess.recent(key, 1))[0]?.message).toBe(
      'Advance podinfo.test canary weight 5',
    );
    expect(JSON.parse(readFileSync(join(directory, 'test_podinfo.json'), 'utf8'))).toHaveLength(3);
  });

  it('starts over, without failing, when the file is damaged', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'vireo-decisions-'));
    writeFileSync(join(directory, 'test_podinfo.json'), '{not json');
    const log = new FileDecisionLog(directory);
    await log.record(key, decision(7));
    expect(await log.recent(key)).toHaveLength(1);
  });
});
