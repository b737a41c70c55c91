/**
 * The sequential judge in local mode (docs/judge.md), with the built binary, real processes and
 * real traffic through the built-in router: a V2 that fails 5% of its requests, at a 5% split of
 * 20 requests per second (one canary request per second), is rolled back by the judge within 100
 * canary requests, while Flagger's success-rate check beside it has not reached its threshold.
 * The decision carries the counts and the bound.
 *
 * Deterministic by construction: the primary answers no errors, and the canary's errors follow the
 * demo service's SEED (with SEED=2 the 2nd, 20th and 25th... requests to `/` fail: its second error is
 * its 25th request, a typical draw for a 5% rate), so the judge's evidence depends on which canary
 * request fails, not on timing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/engine/decisions.js';
import { findFreePort } from '../../src/platforms/local/supervisor.js';

const repository = join(import.meta.dirname, '..', '..');
const stateDirectory = mkdtempSync(join(tmpdir(), 'vireo-judge-e2e-'));
const FLAGGER_THRESHOLD = 10;

function vireo(...args: string[]) {
  return spawnSync(process.execPath, ['bin/vireo.js', ...args], {
    cwd: repository,
    encoding: 'utf8',
    env: { ...process.env, VIREO_STATE_DIR: stateDirectory },
    timeout: 120_000,
  });
}

afterAll(() => {
  vireo('local', 'down');
  rmSync(stateDirectory, { recursive: true, force: true });
});

function manifest(port: number, version: string, errorRate: string): string {
  return `apiVersion: local.vireo.dev/v1alpha1
kind: Workload
metadata:
  name: web
  namespace: local
spec:
  command: node
  args: [${JSON.stringify(join(repository, 'dist', 'platforms', 'local', 'demo-service-main.js'))}]
  env:
    VERSION: '${version}'
    ERROR_RATE: '${errorRate}'
    SEED: '2'
  replicas: 1
  readiness:
    httpPath: /readyz
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: web
  namespace: local
  annotations:
    # Errors only: a canary's freshly started process may answer its first requests slower on a
    # loaded machine, which is not what this test is about.
    vireo.dev/judge: '{"latency": false}'
spec:
  targetRef:
    apiVersion: local.vireo.dev/v1alpha1
    kind: Workload
    name: web
  service:
    port: ${port}
  progressDeadlineSeconds: 600
  analysis:
    interval: 10s
    threshold: ${FLAGGER_THRESHOLD}
    maxWeight: 50
    stepWeight: 5
    metrics:
      - name: request-success-rate
        interval: 1m
        thresholdRange:
          min: 99
`;
}

function decisions(): Decision[] {
  const file = join(stateDirectory, 'events.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { type: string; decision?: Decision })
    .filter((entry) => entry.type === 'decision' && entry.decision !== undefined)
    .map((entry) => entry.decision!);
}

/** One request every 50 ms (20 per second) until stopped; answers are not awaited in order. */
function steadyTraffic(url: string): { stop: () => void } {
  let stopped = false;
  const timer = setInterval(() => {
    if (stopped) return;
    fetch(url, { signal: AbortSignal.timeout(10_000) })
      .then((answer) => answer.arrayBuffer())
      .catch(() => undefined);
  }, 50);
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}

describe('sequential judge, local mode', () => {
  it('rolls back a 5%-error canary at a 5% split within 100 canary requests, before Flagger’s threshold', async () => {
    const port = await findFreePort();
    const file = join(stateDirectory, 'web.yaml');
    writeFileSync(file, manifest(port, '1.0.0', '0'));
    const applied = vireo('local', 'apply', '-f', file);
    expect(applied.status, applied.stderr).toBe(0);
    await expect
      .poll(() => decisions().some((decision) => decision.phase === 'Initialized'), {
        timeout: 120_000,
        interval: 500,
      })
      .toBe(true);

    const traffic = steadyTraffic(`http://127.0.0.1:${port}/`);
    try {
      writeFileSync(file, manifest(port, '2.0.0', '0.05'));
      const again = vireo('local', 'apply', '-f', file);
      expect(again.status, again.stderr).toBe(0);
      await expect
        .poll(() => decisions().some((decision) => decision.phase === 'Failed'), {
          timeout: 600_000,
          interval: 1_000,
        })
        .toBe(true);
    } finally {
      traffic.stop();
    }

    const analysis = decisions();
    const judgeHalt = analysis.find(
      (decision) =>
        decision.action === 'halt' && decision.message.includes('judge: canary error-rate shown worse'),
    );
    expect(judgeHalt, analysis.map((decision) => decision.message).join('\n')).toBeDefined();
    const counts = /canary (\d+)\/(\d+) errors against primary (\d+)\/(\d+)/.exec(judgeHalt!.message);
    expect(counts, judgeHalt!.message).not.toBeNull();
    const [, canaryErrors, canaryRequests, primaryErrors] = counts!.map(Number);
    expect(canaryRequests).toBeLessThanOrEqual(100);
    expect(canaryErrors).toBeGreaterThanOrEqual(2);
    expect(primaryErrors).toBe(0);
    expect(judgeHalt!.message).toContain('false-rollback bound 5% over 1 metric(s)');
    expect(judgeHalt!.message).toMatch(/evidence [\d.]+ of 20 needed/);
    // Flagger's own check had failed fewer times than its threshold: alone, it would still be analysing.
    const flaggerFailures = analysis.filter(
      (decision) => decision.action === 'halt' && decision.message.includes('success rate'),
    ).length;
    expect(flaggerFailures).toBeLessThan(FLAGGER_THRESHOLD);
    expect(judgeHalt!.failedChecks).toBe(FLAGGER_THRESHOLD);
    const rollback = analysis.find((decision) => decision.action === 'rollback');
    expect(rollback?.phase).toBe('Failed');
    expect(rollback?.primaryWeight).toBe(100);
  }, 900_000);
});
