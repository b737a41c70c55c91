/**
 * Local mode survives a restart of Vireo mid-analysis: a second runtime on the same state
 * directory brings back the processes and the split, and carries the analysis on from its
 * weight instead of starting over or promoting twice.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSystemClock } from '../../src/loadtester/clock.js';
import { runLoad } from '../../src/loadtester/load.js';
import type { LocalManifests } from '../../src/platforms/local/manifest.js';
import { LocalRuntime, type LocalEvent } from '../../src/platforms/local/runtime.js';
import { findFreePort } from '../../src/platforms/local/supervisor.js';
import { demoServiceManifests, until } from '../support/local-manifests.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function manifests(port: number, version: string): LocalManifests {
  return demoServiceManifests({
    port,
    env: { VERSION: version },
    analysis: {
      interval: '10s',
      threshold: 5,
      maxWeight: 60,
      stepWeight: 10,
      metrics: [{ name: 'request-success-rate', interval: '15s', thresholdRange: { min: 99 } }],
    },
  });
}

describe('local mode across a restart', () => {
  it('resumes the analysis from its weight and promotes once', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'vireo-local-'));
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const port = await findFreePort();
    const decisions: LocalEvent[] = [];
    const options = {
      stateDirectory: directory,
      speed: 10,
      onEvent: (event: LocalEvent) => {
        if (event.type === 'decision') decisions.push(event);
      },
    };
    const load = new AbortController();
    cleanups.push(() => Promise.resolve(load.abort()));
    let first: LocalRuntime | undefined = await LocalRuntime.start(manifests(port, '1.0.0'), options);
    cleanups.push(async () => first?.stop());
    await until(() => first?.status()[0]?.phase === 'Initialized', 30_000, 'initialization');
    void runLoad(
      {
        url: new URL(`http://127.0.0.1:${port}/`),
        method: 'GET',
        durationMs: 120_000,
        qps: 40,
        concurrency: 2,
        headers: {},
      },
      { clock: createSystemClock(), signal: load.signal },
    );

    await first.apply(manifests(port, '2.0.0'));
    await until(() => (first?.status()[0]?.canaryWeight ?? 0) >= 20, 30_000, 'weight 20');
    const weightBefore = first.status()[0]!.canaryWeight;
    await first.stop();
    first = undefined;
    const decisionsBefore = decisions.length;

    const second = await LocalRuntime.start(manifests(port, '2.0.0'), options);
    cleanups.push(() => second.stop());
    // Before its first tick, the new runtime already serves the persisted split.
    expect(second.status()[0]?.canaryWeight).toBe(weightBefore);
    const answer = await fetch(`http://127.0.0.1:${port}/`);
    expect(answer.status).toBe(200);

    await until(() => second.status()[0]?.phase === 'Succeeded', 60_000, 'promotion');
    const after = decisions.slice(decisionsBefore);
    expect(after.some((event) => event.message.startsWith('New revision detected'))).toBe(false);
    expect(
      after.find((event) => event.decision?.canaryWeight !== undefined && event.decision.canaryWeight > 0)
        ?.decision?.canaryWeight,
    ).toBeGreaterThanOrEqual(weightBefore);
    expect(after.filter((event) => event.decision?.phase === 'Promoting')).toHaveLength(1);
    const primary = await (await fetch(`http://127.0.0.1:${port}/version`)).json();
    expect(primary).toEqual({ version: '2.0.0' });
    const state = JSON.parse(await readFile(second.statePath, 'utf8')) as {
      canaries: Record<string, { status: { phase: string } }>;
    };
    expect(state.canaries['test/web']?.status.phase).toBe('Succeeded');
  });
});
