/**
 * R3: the metrics backend is down for 3 analysis intervals. Flagger's rule (docs/engine.md,
 * "Checks"): a metric query that fails is one failed check, so an outage holds the analysis where
 * it is, and either the analysis resumes once the backend is back or, when the outage's failed
 * checks reach the threshold, the canary rolls back. Never may it promote, or move traffic on
 * a check, without data.
 *
 * The engine runs with the real Prometheus provider (built-in checks and a MetricTemplate)
 * against:
 * - a stand-in speaking Prometheus' HTTP API on loopback, which goes down (connection refused),
 *   answers 503, never answers, or answers with no data, for 3 ticks starting at every point of every strategy's
 *   analysis (canary, A/B, blue/green, blue/green with mirroring);
 * - a real Prometheus (Debian's package) scraping router-shaped series, SIGKILLed for 3 ticks
 *   and restarted on the same TSDB.
 * Each run is compared with the same analysis on a healthy backend. Prints: "R3 metrics outage: …".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary } from '../../src/api/schema/canary.js';
import type { MetricTemplate } from '../../src/api/schema/metric-template.js';
import type { CheckDependencies } from '../../src/engine/checks.js';
import type { Decision } from '../../src/engine/decisions.js';
import { PrometheusBuiltinMetrics } from '../../src/metrics/builtin-metrics.js';
import { BackendMetricTemplates } from '../../src/metrics/templates.js';
import { newTestCanary, World } from '../support/engine-world.js';
import { startMeshExporter, type MeshExporter } from '../support/mesh-exporter.js';
import { startPrometheus, type TestPrometheus } from '../support/prometheus.js';
import { jsonAnswer } from '../support/recording-server.js';
import { startSwitchableServer, type ServerState } from '../support/switchable-server.js';

type Strategy = 'canary' | 'ab-testing' | 'blue-green' | 'mirroring';
/** How the backend is broken; `no-data` answers every query with an empty vector (a wiped TSDB). */
type OutageMode = Exclude<ServerState, 'up'> | 'no-data';

const STRATEGIES: readonly Strategy[] = ['canary', 'ab-testing', 'blue-green', 'mirroring'];
const MODES: readonly OutageMode[] = ['down', 'failing', 'hanging', 'no-data'];
const OUTAGE_TICKS = 3;
const MAX_TICKS = 40;
/** Only a hanging backend runs into it; an answering one gets thirty times as long. */
const HANGING_TIMEOUT_MS = 1_000;
const ANSWERING_TIMEOUT_MS = 30_000;
/** One value that passes every check below: success rate ≥ 90 %, latency ≤ 500 ms, up ≥ 1. */
const STAND_IN_VALUE = 95;

/** A backend the test can break for a while. */
interface Backend {
  readonly url: string;
  readonly name: string;
  breakFor(mode: OutageMode): Promise<void>;
  repair(): Promise<void>;
  readonly mode: OutageMode | undefined;
}

function canaryFor(strategy: Strategy, threshold: number, metricsServer: string): Canary {
  const metrics = [
    { name: 'request-success-rate', thresholdRange: { min: 90 }, interval: '1m' },
    { name: 'request-duration', thresholdRange: { max: 500 }, interval: '1m' },
    { name: 'scrapes', templateRef: { name: 'scrapes' }, thresholdRange: { min: 1 }, interval: '1m' },
  ];
  const noWeights = { stepWeight: undefined, maxWeight: undefined };
  const analysis: Record<Strategy, Record<string, unknown>> = {
    canary: { threshold, metrics },
    'ab-testing': {
      threshold,
      metrics,
      ...noWeights,
      iterations: 3,
      match: [{ headers: { 'x-canary': { exact: 'insider' } } }],
    },
    'blue-green': { threshold, metrics, ...noWeights, iterations: 3 },
    mirroring: { threshold, metrics, ...noWeights, iterations: 3, mirror: true },
  };
  // Mirroring needs a mesh that mirrors (Istio); the others run behind NGINX.
  return newTestCanary(analysis[strategy], {
    metricsServer,
    ...(strategy === 'mirroring' ? { provider: 'istio' } : {}),
  });
}

function scrapesTemplate(address: string): MetricTemplate {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'MetricTemplate',
    metadata: { name: 'scrapes', namespace: 'test' },
    spec: { provider: { type: 'prometheus', address }, query: 'min(up)' },
  };
}

function checksAgainst(world: World, url: string, timeoutMs: number): CheckDependencies {
  const deps = { timeoutMs };
  return {
    builtin: new PrometheusBuiltinMetrics({ metricsServer: url, meshProvider: 'nginx', deps }),
    templates: new BackendMetricTemplates({
      lookup: { get: (namespace, name) => world.source.getMetricTemplate(namespace, name) },
      metricsServer: url,
      deps,
    }),
  };
}

interface TickRecord {
  /** Phase, routes and iterations (failed checks apart: they are what an outage adds). */
  readonly state: string;
  readonly outage: boolean;
  readonly decisions: readonly Decision[];
  readonly promoted: boolean;
}

interface AnalysisRun {
  readonly label: string;
  readonly threshold: number;
  readonly ticks: readonly TickRecord[];
  readonly finalPhase: string;
  readonly promotions: readonly string[];
  readonly primaryWeight: number;
}

/**
 * Initializes the canary on rev-1, releases rev-2 and ticks until it succeeds or fails; the
 * backend is broken for the `OUTAGE_TICKS` ticks starting at tick `outageAt` (1 is the first
 * tick after the release).
 */
async function runAnalysis(
  label: string,
  strategy: Strategy,
  threshold: number,
  backend: Backend,
  outage?: { at: number; mode: OutageMode },
): Promise<AnalysisRun> {
  const world = new World(canaryFor(strategy, threshold, backend.url));
  world.templates.set('test/scrapes', scrapesTemplate(backend.url));
  const ticks: TickRecord[] = [];
  const tick = async (): Promise<void> => {
    const outageNow = backend.mode !== undefined;
    const checks = checksAgainst(
      world,
      backend.url,
      backend.mode === 'hanging' ? HANGING_TIMEOUT_MS : ANSWERING_TIMEOUT_MS,
    );
    const decisionsBefore = (await world.decisions.recent(world.key)).length;
    const promotionsBefore = world.promotions.length;
    await world.tick({ checks });
    const decisions = (await world.decisions.recent(world.key)).slice(decisionsBefore);
    const { routes, status } = world;
    ticks.push({
      state: `${world.phase} ${routes.primaryWeight}/${routes.canaryWeight}${routes.mirrored ? ' mirrored' : ''} i${status.iterations ?? 0}`,
      outage: outageNow,
      decisions,
      promoted: world.promotions.length > promotionsBefore,
    });
  };

  await tick();
  if (world.phase !== 'Initialized') throw new Error(`${label}: initialization failed: ${world.phase}`);
  ticks.length = 0;
  world.release('rev-2');
  for (let index = 1; index <= MAX_TICKS && !['Succeeded', 'Failed'].includes(world.phase); index += 1) {
    if (outage !== undefined && index === outage.at) await backend.breakFor(outage.mode);
    if (outage !== undefined && index === outage.at + OUTAGE_TICKS) await backend.repair();
    await tick();
  }
  if (backend.mode !== undefined) await backend.repair();
  expect(world.violations, label).toEqual([]);
  return {
    label,
    threshold,
    ticks,
    finalPhase: world.phase,
    promotions: [...world.promotions],
    primaryWeight: world.routes.primaryWeight,
  };
}

/** A Prometheus stand-in on its own port, for one analysis. */
async function standInBackend(name: string): Promise<Backend & { close(): Promise<void> }> {
  let mode: OutageMode | undefined;
  const server = await startSwitchableServer({
    answer: () =>
      jsonAnswer(200, {
        status: 'success',
        data: {
          resultType: 'vector',
          result:
            mode === 'no-data' ? [] : [{ metric: {}, value: [Date.now() / 1000, String(STAND_IN_VALUE)] }],
        },
      }),
    // What Prometheus answers while it starts or shuts down.
    failure: jsonAnswer(503, { status: 'error', errorType: 'unavailable', error: 'Service Unavailable' }),
  });
  return {
    url: server.url,
    name,
    get mode() {
      return mode;
    },
    async breakFor(next) {
      mode = next;
      await server.setState(next === 'no-data' ? 'up' : next);
    },
    async repair() {
      mode = undefined;
      await server.setState('up');
    },
    close: () => server.close(),
  };
}

const isCheckDecision = (decision: Decision): boolean =>
  decision.checks !== undefined && decision.checks.length > 0;

/**
 * What the run did without data: promotions, or traffic moved on the strength of checks, on a
 * tick whose backend was down. (Flagger's first analysis step runs no metrics at all and moves
 * traffic on the pre-rollout hooks alone; it needs no data, so it is not counted.)
 */
function actedWithoutData(run: AnalysisRun): TickRecord[] {
  return run.ticks.filter(
    (tick) =>
      tick.outage &&
      (tick.promoted ||
        tick.decisions.some(
          (decision) =>
            decision.action === 'promote' || (decision.action === 'advance' && isCheckDecision(decision)),
        )),
  );
}

/** The checks in force whenever the run promoted: every one passed on a value the backend gave. */
function promotionsOnData(run: AnalysisRun): boolean {
  return run.ticks
    .flatMap((tick) => tick.decisions)
    .filter((decision) => decision.action === 'promote')
    .every(
      (decision) =>
        isCheckDecision(decision) &&
        decision.checks!.every((check) => check.verdict === 'pass' && typeof check.value === 'number'),
    );
}

/**
 * Checks one run against the healthy run of its strategy, and says how it ended:
 * - each failed check came from an outage tick and says the query failed;
 * - without the held ticks, the run went through the healthy run's states in order;
 * - below the threshold it promoted the new revision; at the threshold it rolled back on the
 *   next tick, never having promoted.
 */
function verify(run: AnalysisRun, healthy: AnalysisRun): 'promoted' | 'rolled back' {
  const halts = run.ticks.filter((tick) => tick.decisions.some((decision) => decision.action === 'halt'));
  for (const tick of halts) {
    expect(tick.outage, `${run.label}: a check failed with the backend up`).toBe(true);
    const failed = tick.decisions.find((decision) => decision.action === 'halt')!;
    expect(failed.checks?.at(-1)?.message, run.label).toMatch(
      /^(Metric query failed for \S+: |Halt advancement no values found for )/,
    );
    expect(failed.checks?.at(-1)?.verdict, run.label).toBe('fail');
  }
  expect(halts.length, run.label).toBeLessThanOrEqual(OUTAGE_TICKS);
  expect(actedWithoutData(run), run.label).toEqual([]);
  expect(promotionsOnData(run), run.label).toBe(true);

  const progress = run.ticks.filter((tick) => !halts.includes(tick)).map((tick) => tick.state);
  const expected = healthy.ticks.map((tick) => tick.state);
  if (halts.length >= run.threshold) {
    const lastHalt = run.ticks.indexOf(halts[run.threshold - 1]!);
    const rollback = run.ticks[lastHalt + 1];
    expect(
      rollback?.decisions.map((decision) => decision.action),
      run.label,
    ).toContain('rollback');
    expect(run.ticks.length, run.label).toBe(lastHalt + 2);
    expect(run.finalPhase, run.label).toBe('Failed');
    expect(run.promotions, run.label).toEqual([]);
    expect(run.primaryWeight, run.label).toBe(100);
    // Up to the outage it went as the healthy run did.
    expect(progress.slice(0, -1), run.label).toEqual(expected.slice(0, progress.length - 1));
    return 'rolled back';
  }
  expect(run.finalPhase, run.label).toBe('Succeeded');
  expect(run.promotions, run.label).toEqual(['rev-2']);
  expect(progress, run.label).toEqual(expected);
  expect(run.ticks.length, run.label).toBe(healthy.ticks.length + halts.length);
  return 'promoted';
}

interface Tally {
  analyses: number;
  withoutData: number;
  failedChecks: number;
  promoted: number;
  rolledBack: number;
}

const tally = (): Tally => ({ analyses: 0, withoutData: 0, failedChecks: 0, promoted: 0, rolledBack: 0 });
const standIn = tally();
/** How many stand-in analyses saw each kind of outage. */
const standInModes = new Map<OutageMode, number>();
const real = tally();

function count(into: Tally, run: AnalysisRun, outcome: 'promoted' | 'rolled back'): void {
  into.analyses += 1;
  into.withoutData += actedWithoutData(run).length;
  into.failedChecks += run.ticks.filter((tick) =>
    tick.decisions.some((decision) => decision.action === 'halt'),
  ).length;
  if (outcome === 'promoted') into.promoted += 1;
  else into.rolledBack += 1;
}

afterAll(() => {
  const describeTally = (figures: Tally): string =>
    `${figures.analyses} analyses, ${figures.withoutData} promoted or advanced on missing data, ` +
    `${figures.failedChecks} failed checks counted, ${figures.promoted + figures.rolledBack} recovered ` +
    `(${figures.promoted} promoted after the outage, ${figures.rolledBack} rolled back at the threshold)`;
  if (standIn.analyses > 0)
    console.log(
      `R3 metrics outage (Prometheus API stand-in; ${[...standInModes].map(([mode, runs]) => `${mode} ${runs}`).join(', ')}): ${describeTally(standIn)}`,
    );
  if (real.analyses > 0)
    console.log(`R3 metrics outage (real Prometheus, SIGKILLed): ${describeTally(real)}`);
});

describe('R3: the metrics backend down for 3 intervals', () => {
  it('never promotes on missing data and recovers, at every point of every strategy', async () => {
    const healthyBackend = await standInBackend('healthy');
    const healthy = new Map<Strategy, AnalysisRun>();
    try {
      for (const strategy of STRATEGIES)
        healthy.set(strategy, await runAnalysis(`${strategy} healthy`, strategy, 5, healthyBackend));
    } finally {
      await healthyBackend.close();
    }

    // Every tick of each analysis as the outage's first tick, each mode in turn, and a threshold
    // the outage cannot reach (5) alternating with one it can (2).
    const scenarios = STRATEGIES.flatMap((strategy, strategyIndex) =>
      healthy
        .get(strategy)!
        .ticks.slice(0, -1)
        .map((_tick, index) => {
          const at = index + 1;
          return {
            strategy,
            at,
            mode: MODES[(strategyIndex + at) % MODES.length]!,
            threshold: at % 2 === 0 ? 2 : 5,
          };
        }),
    );
    const results = await Promise.all(
      scenarios.map(async ({ strategy, at, mode, threshold }) => {
        const backend = await standInBackend(`${strategy}-${at}`);
        try {
          const label = `${strategy}, backend ${mode} from tick ${at}, threshold ${threshold}`;
          const run = await runAnalysis(label, strategy, threshold, backend, { at, mode });
          return { run, strategy };
        } finally {
          await backend.close();
        }
      }),
    );
    for (const { run, strategy } of results) count(standIn, run, verify(run, healthy.get(strategy)!));
    for (const { mode } of scenarios) standInModes.set(mode, (standInModes.get(mode) ?? 0) + 1);

    expect(standIn.analyses).toBeGreaterThanOrEqual(24);
    expect(standIn.withoutData).toBe(0);
    // The matrix reaches both outcomes, or it would not show the threshold at work.
    expect(standIn.promoted).toBeGreaterThan(0);
    expect(standIn.rolledBack).toBeGreaterThan(0);
  });

  describe('a real Prometheus, SIGKILLed and restarted', () => {
    let exporter: MeshExporter;
    let prometheus: TestPrometheus;

    beforeAll(async () => {
      exporter = await startMeshExporter();
      prometheus = await startPrometheus({ targets: [exporter.target], scrapeIntervalSeconds: 1 });
      await prometheus.waitForScrapes(4);
    });

    afterAll(async () => {
      await prometheus?.stop();
      await exporter?.close();
    });

    it('holds each strategy through the outage and promotes once Prometheus is back', async () => {
      let mode: OutageMode | undefined;
      const backend: Backend = {
        get url() {
          return prometheus.url;
        },
        name: 'prometheus',
        get mode() {
          return mode;
        },
        async breakFor() {
          mode = 'down';
          await prometheus.kill();
        },
        async repair() {
          await prometheus.restart();
          // Back means answering the checks' queries again (the TSDB replays its WAL first).
          const probe = new PrometheusBuiltinMetrics({
            metricsServer: prometheus.url,
            meshProvider: 'nginx',
          });
          const probeCanary = canaryFor('canary', 5, prometheus.url);
          await expect
            .poll(async () => probe.requestSuccessRate(probeCanary, '1m').catch(() => undefined), {
              timeout: 60_000,
              interval: 250,
            })
            .toBeTypeOf('number');
          mode = undefined;
        },
      };

      // A healthy pass per strategy against the same Prometheus, then the outage 3 ticks in.
      for (const strategy of STRATEGIES) {
        const healthy = await runAnalysis(`${strategy} healthy (real)`, strategy, 5, backend);
        expect(healthy.finalPhase, strategy).toBe('Succeeded');
        const run = await runAnalysis(`${strategy}, Prometheus killed from tick 3`, strategy, 5, backend, {
          at: 3,
          mode: 'down',
        });
        const outcome = verify(run, healthy);
        expect(outcome, run.label).toBe('promoted');
        count(real, run, outcome);
      }
      expect(real.failedChecks).toBeGreaterThan(0);
    });
  });
});
