/**
 * A new revision applied while another one is being analysed (issue 13, item 1): the canary's
 * processes must move to the newer revision when the analysis restarts, so that it is what the
 * checks measure, and promotion must copy exactly the spec that was analysed. Real processes
 * (Vireo's demo service), real traffic through the built-in router, for every strategy local
 * mode runs: canary, A/B, blue/green, blue/green with mirroring.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Canary } from '../../src/api/schema/canary.js';
import type { LocalManifests } from '../../src/platforms/local/manifest.js';
import { LocalRuntime, type LocalEvent } from '../../src/platforms/local/runtime.js';
import { findFreePort } from '../../src/platforms/local/supervisor.js';
import { demoServiceManifests, until } from '../support/local-manifests.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Analysis = NonNullable<Canary['spec']['analysis']>;

const HEALTHY = { VERSION: '2.0.0' };
const BROKEN = { VERSION: '3.0.0', ERROR_RATE: '1' };
const INSIDER = { 'x-canary': 'insider' };

function manifests(port: number, env: Record<string, string>, analysis: Analysis): LocalManifests {
  return demoServiceManifests({ port, env, analysis });
}

interface Answer {
  readonly at: number;
  readonly status: number;
  readonly backend: string;
  readonly version: string;
}

/** Steady client traffic through the router; every answer is kept with its arm and version. */
function startTraffic(port: number, headers: Record<string, string> = {}): { answers: Answer[] } {
  const answers: Answer[] = [];
  const controller = new AbortController();
  const worker = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/`, { headers, signal: controller.signal });
        await response.arrayBuffer();
        answers.push({
          at: Date.now(),
          status: response.status,
          backend: response.headers.get('x-vireo-backend') ?? '',
          version: response.headers.get('x-version') ?? '',
        });
      } catch {
        // Aborted at the end of the test, or the router restarting its listener.
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  const workers = [worker(), worker()];
  cleanups.push(async () => {
    controller.abort();
    await Promise.all(workers);
  });
  return { answers };
}

interface Run {
  readonly runtime: LocalRuntime;
  readonly port: number;
  readonly decisions: LocalEvent[];
  readonly alerts: LocalEvent[];
}

async function startAt(version1: Analysis): Promise<Run> {
  const directory = await mkdtemp(join(tmpdir(), 'vireo-local-revision-'));
  cleanups.push(() => rm(directory, { recursive: true, force: true }));
  const port = await findFreePort();
  const decisions: LocalEvent[] = [];
  const alerts: LocalEvent[] = [];
  const runtime = await LocalRuntime.start(manifests(port, { VERSION: '1.0.0' }, version1), {
    stateDirectory: directory,
    speed: 10,
    onEvent: (event) => {
      if (event.type === 'decision') decisions.push(event);
      if (event.type === 'alert') alerts.push(event);
    },
  });
  cleanups.push(() => runtime.stop());
  await until(() => runtime.status()[0]?.phase === 'Initialized', 60_000, 'initialization');
  return { runtime, port, decisions, alerts };
}

const decided = (run: Run, pattern: RegExp): number =>
  run.decisions.findIndex((d) => pattern.test(d.message));

async function versionOfPrimary(port: number): Promise<string> {
  // The primary serves everything once a run has ended.
  const answer = await fetch(`http://127.0.0.1:${port}/version`);
  return ((await answer.json()) as { version: string }).version;
}

/**
 * v2 (healthy) is being analysed when v3 (every answer a 500) is applied: the analysis restarts,
 * the canary runs v3, the checks see its errors and the canary fails; v3 never reaches the primary.
 */
async function brokenRevisionDuringAnalysis(
  analysis: Analysis,
  inAnalysis: RegExp,
  headers: Record<string, string> = {},
): Promise<void> {
  const run = await startAt(analysis);
  const plain = startTraffic(run.port);
  const matching = Object.keys(headers).length > 0 ? startTraffic(run.port, headers) : plain;

  await run.runtime.apply(manifests(run.port, HEALTHY, analysis));
  await until(() => decided(run, inAnalysis) >= 0, 90_000, `v2 in analysis (${inAnalysis.source})`);
  expect(run.runtime.status()[0]?.phase).toBe('Progressing');

  await run.runtime.apply(manifests(run.port, BROKEN, analysis));
  await until(() => decided(run, /Restarting analysis/) >= 0, 60_000, 'the analysis restart');
  const restartedAt = Date.now();
  // The decision, not the phase: the phase is written just before the decision is recorded.
  await until(
    () => decided(run, /Canary failed!|Promotion completed!/) > decided(run, /Restarting analysis/),
    180_000,
    'the end of the v3 run',
  );

  const after = run.decisions.slice(decided(run, /Restarting analysis/));
  expect(
    after.map((d) => d.message),
    'v3 must be measured and rolled back',
  ).toContainEqual(expect.stringMatching(/Canary failed! Scaling down web\.test/));
  expect(run.runtime.status()[0]?.phase).toBe('Failed');
  expect(after.some((d) => d.decision?.action === 'promote')).toBe(false);
  // The failing checks measured v3's own answers: the canary arm answered them.
  const canaryAnswers = [...plain.answers, ...matching.answers].filter(
    (answer) => answer.backend === 'canary' && answer.at > restartedAt,
  );
  if (analysis.mirror !== true) {
    expect(canaryAnswers.some((answer) => answer.version === '3.0.0' && answer.status === 500)).toBe(true);
  }
  // Once the router has stopped using v2 for the restarted run, no canary answer comes from v2.
  const firstV3 = canaryAnswers.findIndex((answer) => answer.version === '3.0.0');
  expect(canaryAnswers.slice(Math.max(firstV3, 0)).filter((answer) => answer.version === '2.0.0')).toEqual(
    [],
  );
  expect(await versionOfPrimary(run.port)).toBe('1.0.0');
}

const metrics: Analysis['metrics'] = [
  { name: 'request-success-rate', interval: '15s', thresholdRange: { min: 99 } },
];

describe('a new revision during an analysis (local mode, real processes and traffic)', () => {
  it('canary: the restarted analysis measures the new revision and rolls it back', async () => {
    await brokenRevisionDuringAnalysis(
      { interval: '10s', threshold: 3, maxWeight: 50, stepWeight: 10, metrics },
      /Advance web\.test canary weight 20/,
    );
  });

  it('A/B: the matching requests reach the new revision, which is rolled back', async () => {
    await brokenRevisionDuringAnalysis(
      {
        interval: '10s',
        threshold: 3,
        iterations: 8,
        match: [{ headers: { 'x-canary': { exact: 'insider' } } }],
        metrics,
      },
      /canary iteration 2\/8/,
      INSIDER,
    );
  });

  it('blue/green with mirroring: the copies reach the new revision, which is rolled back', async () => {
    await brokenRevisionDuringAnalysis(
      { interval: '10s', threshold: 3, iterations: 8, mirror: true, metrics },
      /canary iteration 2\/8/,
    );
  });

  it('blue/green: the new revision is the one given all traffic and promoted', async () => {
    // Without mirroring, a local blue/green canary sees no traffic before the last iteration,
    // so this run has no metrics: what counts is which processes take the traffic and get promoted.
    const analysis: Analysis = { interval: '10s', threshold: 3, iterations: 6 };
    const run = await startAt(analysis);
    const traffic = startTraffic(run.port);
    await run.runtime.apply(manifests(run.port, HEALTHY, analysis));
    await until(() => decided(run, /canary iteration 2\/6/) >= 0, 90_000, 'v2 in analysis');
    await run.runtime.apply(manifests(run.port, { VERSION: '3.0.0' }, analysis));
    await until(() => decided(run, /Restarting analysis/) >= 0, 60_000, 'the analysis restart');
    const restart = decided(run, /Restarting analysis/);
    await until(() => run.runtime.status()[0]?.phase === 'Succeeded', 180_000, 'the promotion of v3');

    const allToCanary = run.decisions.findIndex(
      (d, index) => index > restart && /all traffic to canary/.test(d.message),
    );
    expect(allToCanary).toBeGreaterThan(restart);
    const canaryVersions = new Set(
      traffic.answers.filter((answer) => answer.backend === 'canary').map((answer) => answer.version),
    );
    expect([...canaryVersions]).toEqual(['3.0.0']);
    expect(run.decisions.filter((d) => d.decision?.action === 'promote')).toHaveLength(1);
    expect(await versionOfPrimary(run.port)).toBe('3.0.0');
  });

  it('promotes the analysed revision even when a newer one arrives during the promotion', async () => {
    const analysis: Analysis = {
      interval: '10s',
      threshold: 3,
      maxWeight: 20,
      stepWeight: 10,
      stepWeightPromotion: 10,
      metrics,
    };
    const run = await startAt(analysis);
    startTraffic(run.port);
    await run.runtime.apply(manifests(run.port, HEALTHY, analysis));
    await until(() => run.runtime.status()[0]?.phase === 'Promoting', 120_000, 'v2 promoting');
    await run.runtime.apply(manifests(run.port, BROKEN, analysis));
    await until(
      () => decided(run, /Promotion completed! Scaling down web\.test/) >= 0,
      120_000,
      'the end of the v2 promotion',
    );
    expect(await versionOfPrimary(run.port)).toBe('2.0.0');
    // v3 then gets an analysis of its own, fails it, and the primary keeps v2.
    await until(() => run.runtime.status()[0]?.phase === 'Failed', 180_000, 'the v3 rollback');
    expect(await versionOfPrimary(run.port)).toBe('2.0.0');
  });
});
