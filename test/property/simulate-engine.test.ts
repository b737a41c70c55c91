/**
 * `vireo simulate` shows what the engine does: generated canaries (canary, A/B, blue/green and
 * mirroring; step weights, ladders, iterations, promotion steps; metrics; webhooks of every type
 * with gates closed for a while; checks failing at chosen ticks) are simulated, and the same
 * canary is driven tick by tick through the engine on the tests' world
 * (test/support/engine-world.ts), scripted here independently of simulate. Every step of the
 * timeline must be what the engine did in that tick: phase, weights, iteration, failed checks,
 * webhooks called, metrics queried and events. Where the timeline ends before Succeeded or Failed
 * (a gate that never opens), one more tick of the engine must change nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Canary, CanaryWebhook } from '../../src/api/schema/canary.js';
import type { WebhookResult } from '../../src/engine/ports.js';
import { simulateCanary, type Timeline, type TimelineStep } from '../../src/simulate/timeline.js';
import { World, refused } from '../support/engine-world.js';

const RUNS = Number(process.env['VIREO_SIMULATE_RUNS'] ?? 300);
const SEED = Number(process.env['VIREO_SIMULATE_SEED'] ?? 20_261_206);

const INTERVALS = { '10s': 10, '30s': 30, '1m': 60 } as const;
const GATES = ['confirm-rollout', 'confirm-traffic-increase', 'confirm-promotion'] as const;
const OTHER_HOOKS = ['pre-rollout', 'rollout', '', 'post-rollout', 'rollback', 'event'] as const;

interface Scenario {
  canary: Canary;
  intervalSeconds: number;
  /** Ticks (0 = detection) whose checks fail. */
  failingTicks: number[];
  /** Gate name → the first tick it is open. */
  gatesOpenAt: Record<string, number>;
}

const metricsArbitrary = fc.subarray([
  { name: 'request-success-rate', thresholdRange: { min: 99 } },
  { name: 'request-duration', interval: '30s', thresholdRange: { max: 500 } },
  { name: 'latency', templateRef: { name: 'latency' }, thresholdRange: { max: 0.5 } },
]);

const hooksArbitrary = fc
  .tuple(
    fc.subarray([...GATES]),
    fc.subarray([...OTHER_HOOKS]),
    // The tick each gate opens at; some never do.
    fc.array(fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constant(Infinity)), { minLength: 3, maxLength: 3 }),
  )
  .map(([gates, others, openAt]) => {
    const hooks: CanaryWebhook[] = [...gates, ...others].map((type) => ({
      name: `${type || 'load'}-hook`,
      ...(type === '' ? {} : { type }),
      url: 'http://loadtester.test/',
    }));
    const gatesOpenAt = Object.fromEntries(gates.map((type, index) => [`${type}-hook`, openAt[index] ?? 0]));
    return { hooks, gatesOpenAt };
  });

/** The progression part of `analysis` and the provider, per strategy. */
const strategyArbitrary = fc.oneof(
  fc.record({
    provider: fc.constantFrom('istio', 'nginx'),
    analysis: fc.oneof(
      fc.record({
        stepWeight: fc.integer({ min: 5, max: 60 }),
        maxWeight: fc.integer({ min: 10, max: 100 }),
        stepWeightPromotion: fc.constantFrom(0, 25, 50, 100),
      }),
      fc.record({
        stepWeights: fc
          .uniqueArray(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 5 })
          .map((weights) => weights.sort((a, b) => a - b)),
        stepWeightPromotion: fc.constantFrom(0, 30),
      }),
    ),
  }),
  // Mirroring before the first weight step (Istio).
  fc.record({
    provider: fc.constant('istio'),
    analysis: fc.record({
      stepWeight: fc.integer({ min: 10, max: 50 }),
      maxWeight: fc.integer({ min: 10, max: 100 }),
      mirror: fc.constant(true),
    }),
  }),
  // A/B testing.
  fc.record({
    provider: fc.constantFrom('istio', 'nginx'),
    analysis: fc.record({
      iterations: fc.integer({ min: 1, max: 5 }),
      match: fc.constant<{ headers: Record<string, { exact: string }> }[]>([
        { headers: { 'x-canary': { exact: 'insider' } } },
      ]),
    }),
  }),
  // Blue/green, mirrored on Istio, and the kubernetes provider (no router).
  fc.record({
    provider: fc.constantFrom('istio', 'nginx', 'kubernetes'),
    analysis: fc.record({ iterations: fc.integer({ min: 1, max: 5 }), mirror: fc.boolean() }),
  }),
);

const scenarioArbitrary: fc.Arbitrary<Scenario> = fc
  .record({
    strategy: strategyArbitrary,
    interval: fc.constantFrom(...(Object.keys(INTERVALS) as (keyof typeof INTERVALS)[])),
    threshold: fc.integer({ min: 1, max: 4 }),
    metrics: metricsArbitrary,
    hooks: hooksArbitrary,
    failingTicks: fc.uniqueArray(fc.integer({ min: 1, max: 14 }), { maxLength: 6 }),
    targetName: fc.constantFrom('podinfo', 'backend'),
  })
  .map(({ strategy, interval, threshold, metrics, hooks, failingTicks, targetName }) => ({
    canary: {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'Canary',
      metadata: { name: 'podinfo', namespace: 'test' },
      spec: {
        provider: strategy.provider,
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: targetName },
        service: { port: 9898 },
        analysis: { interval, threshold, metrics, webhooks: hooks.hooks, ...strategy.analysis },
      },
    },
    intervalSeconds: INTERVALS[interval],
    failingTicks: failingTicks.sort((a, b) => a - b),
    gatesOpenAt: hooks.gatesOpenAt,
  }));

const METRIC_OF_CALL: Record<string, string> = {
  successRate: 'request-success-rate',
  durationMs: 'request-duration',
  'query:latency': 'latency',
};

/** The engine, driven directly: the scenario scripted on the tests' world, one tick at a time. */
class DirectRun {
  readonly world: World;
  private tickIndex = 0;

  constructor(private readonly scenario: Scenario) {
    this.world = new World(scenario.canary);
    this.world.templates.set('test/latency', {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'MetricTemplate',
      metadata: { name: 'latency', namespace: 'test' },
      spec: { provider: { type: 'prometheus' }, query: 'latency' },
    });
    const hasMetrics = (scenario.canary.spec.analysis?.metrics ?? []).length > 0;
    for (const hook of scenario.canary.spec.analysis?.webhooks ?? []) {
      this.world.hookAnswers.set(hook.name, () => this.answer(hook, hasMetrics));
    }
  }

  private failing(): boolean {
    return this.scenario.failingTicks.includes(this.tickIndex);
  }

  private answer(hook: CanaryWebhook, hasMetrics: boolean): WebhookResult {
    const ok: WebhookResult = { ok: true, status: 200, body: 'ok', attempts: 1 };
    const type = hook.type ?? '';
    if ((GATES as readonly string[]).includes(type))
      return this.tickIndex >= (this.scenario.gatesOpenAt[hook.name] ?? 0) ? ok : refused();
    if (type === 'rollback') return refused('no rollback requested', 404);
    const checks = type === 'pre-rollout' || ((type === '' || type === 'rollout') && !hasMetrics);
    return checks && this.failing() ? refused('simulated failure', 500) : ok;
  }

  async initialize(): Promise<void> {
    await this.world.tick();
    expect(this.world.phase).toBe('Initialized');
    this.world.release('rev-2');
  }

  /** One engine tick; what it did, in the timeline's terms. */
  async tick(): Promise<Omit<TimelineStep, 't'> & { decisions: string[] }> {
    const { world } = this;
    const failing = this.failing();
    world.successRate = failing ? 98 : 100;
    world.durationMs = failing ? 501 : 10;
    world.templateValues.set('latency', failing ? 1 : 0.1);
    const before = {
      calls: world.calls.length,
      hooks: world.hookCalls.length,
      events: world.events.length,
      decisions: world.decisionHistory.length,
      failedChecks: world.status.failedChecks ?? 0,
    };
    await world.engine().advance(world.key);
    expect(world.engineErrors).toEqual([]);
    this.tickIndex += 1;
    const decisions = world.decisionHistory.slice(before.decisions).map((decision) => decision.action);
    const kubernetes = this.scenario.canary.spec.provider === 'kubernetes';
    return {
      phase: world.status.phase ?? '',
      canaryWeight: kubernetes ? 0 : world.routes.canaryWeight,
      primaryWeight: kubernetes ? 100 : world.routes.primaryWeight,
      mirrored: kubernetes ? false : world.routes.mirrored,
      iteration: world.status.iterations ?? 0,
      // A rollback zeroes the count in status: the count that caused it is the one before.
      failedChecks: decisions.includes('rollback') ? before.failedChecks : (world.status.failedChecks ?? 0),
      webhooks: world.hookCalls
        .slice(before.hooks)
        .filter((call) => call.hook.type !== 'event')
        .map((call) => ({ name: call.hook.name, type: call.hook.type || 'rollout' })),
      checks: world.calls.slice(before.calls).flatMap((call) => METRIC_OF_CALL[call] ?? []),
      events: world.events.slice(before.events).map((event) => event.message),
      decisions,
    };
  }
}

async function simulate(scenario: Scenario): Promise<Timeline> {
  return simulateCanary(scenario.canary, {
    failAtSeconds: scenario.failingTicks.map((tick) => tick * scenario.intervalSeconds),
    closedGates: Object.fromEntries(
      Object.entries(scenario.gatesOpenAt).map(([name, tick]) => [name, tick * scenario.intervalSeconds]),
    ),
  });
}

describe('simulate equals the engine driven directly', () => {
  it(`${RUNS} generated canaries (seed ${SEED})`, async () => {
    const strategies = new Map<string, number>();
    const endings = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(scenarioArbitrary, async (scenario) => {
        const timeline = await simulate(scenario);
        const direct = new DirectRun(scenario);
        await direct.initialize();
        for (const [index, step] of timeline.steps.entries()) {
          const observed: Partial<Awaited<ReturnType<DirectRun['tick']>>> = await direct.tick();
          delete observed.decisions;
          expect(step.t).toBe(index * scenario.intervalSeconds);
          expect(step).toEqual({ t: step.t, ...observed });
        }
        const last = timeline.steps.at(-1)!;
        if (last.phase !== 'Succeeded' && last.phase !== 'Failed') {
          // The timeline ended because nothing changes any more: one more tick must agree.
          const next = await direct.tick();
          expect(next.decisions.every((action) => action === 'wait')).toBe(true);
          expect([next.phase, next.canaryWeight, next.iteration]).toEqual([
            last.phase,
            last.canaryWeight,
            last.iteration,
          ]);
        }
        expect(direct.world.violations).toEqual([]);
        strategies.set(timeline.strategy, (strategies.get(timeline.strategy) ?? 0) + 1);
        endings.set(last.phase, (endings.get(last.phase) ?? 0) + 1);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    // Every strategy and every ending was generated (the generator did not collapse).
    expect([...strategies.keys()].sort()).toEqual(['ab-testing', 'blue-green', 'canary']);
    expect([...endings.keys()]).toEqual(
      expect.arrayContaining(['Succeeded', 'Failed', 'Waiting', 'WaitingPromotion', 'Progressing']),
    );
    process.stdout.write(
      `simulate vs engine: ${RUNS} canaries, strategies ${JSON.stringify(Object.fromEntries(strategies))}, endings ${JSON.stringify(Object.fromEntries(endings))}\n`,
    );
  });
});
