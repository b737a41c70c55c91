/**
 * The sequential judge in the engine (docs/judge.md): fail rolls back at once, inconclusive holds
 * the weight without counting a failure, pass advances; the evidence comes from the counts since
 * the revision's analysis start, so a restarted engine (every tick here builds a new one) decides
 * the same, and a new revision starts from nothing. The settings come from the annotation.
 */
import { describe, expect, it } from 'vitest';
import type { Canary } from '../../api/schema/canary.js';
import { initializedWorld, newTestCanary, type World } from '../../../test/support/engine-world.js';
import { DEFAULT_CHECK_REGISTRY, type ArmObservations, type TrafficObservations } from '../checks.js';
import { JUDGE_ANNOTATION, parseJudgeSettings } from './config.js';
import { JUDGE_CHECKS, judgeTraffic } from './judge.js';

/** Traffic that happened in the world, per minute; the port sums what came after `since`. */
class TrafficLedger implements TrafficObservations {
  readonly entries: { at: Date; canary: ArmObservations; primary: ArmObservations }[] = [];
  asked: Date[] = [];

  constructor(private readonly world: World) {}

  /** Requests served in the minute before the world's next tick. */
  serve(canary: [number, number], primary: [number, number], fastShare = 1): void {
    const arm = ([requests, errors]: [number, number]): ArmObservations => ({
      requests,
      errors,
      latencyBuckets: { '0.1': Math.round(requests * fastShare), '1': requests, '+Inf': requests },
    });
    this.entries.push({ at: this.world.now, canary: arm(canary), primary: arm(primary) });
  }

  observe(_canary: Canary, since: Date) {
    this.asked.push(since);
    const sum = (pick: 'canary' | 'primary'): ArmObservations => {
      const chosen = this.entries.filter((entry) => entry.at >= since).map((entry) => entry[pick]);
      const buckets: Record<string, number> = {};
      for (const entry of chosen)
        for (const [bound, count] of Object.entries(entry.latencyBuckets))
          buckets[bound] = (buckets[bound] ?? 0) + count;
      return {
        requests: chosen.reduce((total, entry) => total + entry.requests, 0),
        errors: chosen.reduce((total, entry) => total + entry.errors, 0),
        latencyBuckets: buckets,
      };
    };
    return Promise.resolve({
      canary: sum('canary'),
      primary: sum('primary'),
      from: since,
      to: this.world.now,
    });
  }
}

function judgedCanary(settings = '{}', analysis: Record<string, unknown> = {}): Canary {
  const canary = newTestCanary({ threshold: 5, stepWeight: 5, maxWeight: 50, ...analysis });
  return { ...canary, metadata: { ...canary.metadata, annotations: { [JUDGE_ANNOTATION]: settings } } };
}

async function judgedWorld(settings?: string) {
  const world = await initializedWorld(judgedCanary(settings));
  const traffic = new TrafficLedger(world);
  const options = {
    checkKinds: DEFAULT_CHECK_REGISTRY.with(JUDGE_CHECKS),
    checks: { builtin: world.builtin, templates: world.metricTemplates, observations: traffic },
  };
  return { world, traffic, tick: () => world.tick(options) };
}

const judgeOutcome = (world: World) =>
  world.decisionHistory.at(-1)?.checks?.find((outcome) => outcome.check === 'judge');

describe('sequential judge in the engine', () => {
  it('rolls back a canary shown worse at once, not after `threshold` failed checks, saying counts and bound', async () => {
    const { world, traffic, tick } = await judgedWorld();
    await tick(); // Progressing at 5%
    traffic.serve([20, 2], [380, 0]);
    await tick(); // first step: hooks only
    traffic.serve([20, 1], [380, 0]);
    await tick(); // the judge sees 3 errors in 40 canary requests against none in 760
    const halt = world.decisionHistory.at(-1)!;
    expect(halt.action).toBe('halt');
    expect(halt.failedChecks).toBe(5);
    expect(halt.message).toMatch(/^Halt podinfo\.test advancement judge: canary error-rate shown worse/);
    expect(halt.message).toContain('canary 3/40 errors against primary 0/760');
    expect(halt.message).toContain('false-rollback bound 5% over 2 metric(s)');
    expect(halt.message).toMatch(/evidence [\d.]+ of 40 needed/);
    expect(judgeOutcome(world)?.evidence).toMatchObject({
      bound: 0.05,
      metrics: expect.arrayContaining([
        expect.objectContaining({ metric: 'error-rate', finding: 'worse', limit: 40 }),
      ]),
    });
    await tick();
    expect(world.phase).toBe('Failed');
    expect(world.routes).toMatchObject({ primaryWeight: 100, canaryWeight: 0 });
  });

  it('holds the weight without counting a failure while too few canary requests came, saying how many more', async () => {
    const { world, traffic, tick } = await judgedWorld();
    await tick();
    traffic.serve([10, 0], [190, 0]);
    await tick();
    traffic.serve([10, 0], [190, 0]);
    await tick();
    const hold = world.decisionHistory.at(-1)!;
    expect(hold.action).toBe('hold');
    expect(hold.failedChecks).toBe(0);
    expect(world.routes.canaryWeight).toBe(5);
    const need = /needs about (\d+) more canary requests \(about (\S+) at the current rate\)/.exec(
      hold.message,
    );
    expect(need, hold.message).not.toBeNull();
    // 20 canary requests over the two minutes since the analysis start: 1 every 6 s.
    const more = Number(need![1]);
    expect(more).toBeGreaterThan(100);
    expect(judgeOutcome(world)?.evidence).toMatchObject({ needCanaryRequests: more, needSeconds: more * 6 });
    expect(hold.message).toContain('to catch a canary error rate of 1%');
  });

  it('passes once enough clean canary requests came, and the weight advances', async () => {
    const { world, traffic, tick } = await judgedWorld();
    await tick();
    traffic.serve([400, 0], [7600, 8]);
    await tick();
    traffic.serve([400, 0], [7600, 8]);
    await tick();
    expect(world.decisionHistory.at(-1)).toMatchObject({ action: 'advance', failedChecks: 0 });
    expect(world.routes.canaryWeight).toBe(10);
    expect(judgeOutcome(world)).toMatchObject({ verdict: 'pass' });
    expect(judgeOutcome(world)?.message).toContain('canary 0/800 errors against primary 16/15200');
  });

  it('accumulates evidence from the analysis start across restarts: no single minute shows what the sum does', async () => {
    const { world, traffic, tick } = await judgedWorld('{"errors": {"detect": 0}}');
    await tick();
    const verdicts: string[] = [];
    for (let minute = 0; minute < 4 && !verdicts.includes('fail'); minute += 1) {
      traffic.serve([20, 1], [380, 0]);
      await tick(); // every tick is a new engine: a restarted controller
      verdicts.push(judgeOutcome(world)?.verdict ?? 'hooks');
    }
    // One error in 20 canary requests alone is not enough (evidence 10.5 of 40); two are.
    expect(verdicts).toEqual(['hooks', 'fail']);
    expect(new Set(traffic.asked.map((since) => since.toISOString()))).toEqual(
      new Set(['2026-11-23T10:01:00.000Z']),
    );
  });

  it('starts from nothing for a new revision: what the previous one served does not count', async () => {
    const { world, traffic, tick } = await judgedWorld('{"errors": {"detect": 0}}');
    await tick();
    traffic.serve([20, 1], [380, 0]);
    await tick();
    world.release('rev-3'); // a fix, before the judge saw a second error
    await tick(); // restart of the analysis for rev-3
    traffic.serve([20, 1], [380, 0]);
    await tick();
    traffic.serve([20, 0], [380, 0]);
    await tick();
    expect(world.phase).toBe('Progressing');
    expect(judgeOutcome(world)?.message).toContain('canary 1/40 errors');
    expect(traffic.asked.at(-1)!.getTime()).toBeGreaterThan(new Date('2026-11-23T10:01:00Z').getTime());
  });

  it('rolls back on latency: canary requests slower than the primary p99 far more often', async () => {
    const { world, traffic, tick } = await judgedWorld('{"errors": false, "latency": [{"quantile": 0.9}]}');
    await tick();
    traffic.serve([40, 0], [760, 0], 0.95); // the primary's p90 is in the 0.1 s bucket
    await tick();
    traffic.serve([40, 0], [760, 0], 0.95);
    // The canary: half its requests above 0.1 s.
    traffic.entries.at(-1)!.canary = {
      requests: 40,
      errors: 0,
      latencyBuckets: { '0.1': 20, '1': 40, '+Inf': 40 },
    };
    await tick();
    expect(world.decisionHistory.at(-1)?.message).toMatch(/latency-p90 shown worse/);
    expect(world.decisionHistory.at(-1)?.message).toContain('requests slower than 0.1s');
  });

  it('a malformed annotation fails the check naming the annotation and the field, and the canary is not touched otherwise', async () => {
    const { world, traffic, tick } = await judgedWorld('{"bound": 2}');
    await tick();
    traffic.serve([20, 0], [380, 0]);
    await tick();
    traffic.serve([20, 0], [380, 0]);
    await tick();
    expect(world.decisionHistory.at(-1)).toMatchObject({ action: 'halt', failedChecks: 1 });
    expect(world.decisionHistory.at(-1)?.message).toContain(
      'annotation vireo.dev/judge: bound must be a number above 0 and at most 0.5, not 2',
    );
  });

  it("a judge's hold does not hide a failing Flagger check, and its failure is not hidden behind one", async () => {
    const canary = judgedCanary('{}', {
      metrics: [{ name: 'request-success-rate', interval: '1m', thresholdRange: { min: 99 } }],
    });
    const world = await initializedWorld(canary);
    const traffic = new TrafficLedger(world);
    const options = {
      checkKinds: DEFAULT_CHECK_REGISTRY.with(JUDGE_CHECKS),
      checks: { builtin: world.builtin, templates: world.metricTemplates, observations: traffic },
    };
    await world.tick(options);
    traffic.serve([10, 0], [190, 0]);
    await world.tick(options);
    world.successRate = 90; // Flagger's check fails while the judge still waits for data
    traffic.serve([10, 0], [190, 0]);
    await world.tick(options);
    expect(world.decisionHistory.at(-1)).toMatchObject({ action: 'halt', failedChecks: 1 });
    expect(world.decisionHistory.at(-1)?.message).toContain('success rate 90.00% < 99%');
    traffic.serve([10, 3], [190, 0]);
    await world.tick(options);
    expect(world.decisionHistory.at(-1)).toMatchObject({ action: 'halt', failedChecks: 5 });
    expect(world.decisionHistory.at(-1)?.message).toContain('judge: canary error-rate shown worse');
  });

  it('a canary without the annotation has no judge check', async () => {
    const world = await initializedWorld(newTestCanary());
    const options = { checkKinds: DEFAULT_CHECK_REGISTRY.with(JUDGE_CHECKS) };
    expect(options.checkKinds.checksFor(world.canary).map((check) => check.name)).toEqual([]);
    expect(options.checkKinds.checksFor(judgedCanary()).map((check) => check.name)).toEqual(['judge']);
  });
});

describe('judge settings', () => {
  it('an empty object enables the defaults', () => {
    expect(parseJudgeSettings('{}')).toEqual({
      bound: 0.05,
      errors: { margin: 1.5, detect: 0.01 },
      latency: [{ quantile: 0.99, margin: 2 }],
    });
  });

  it.each([
    ['not json', 'is not JSON'],
    ['[]', 'the value must be a JSON object'],
    ['{"bond": 0.05}', 'unknown field "bond"'],
    ['{"errors": {"margin": 0.5}}', 'errors.margin must be a number at least 1, not 0.5'],
    ['{"latency": {"quantile": 0.99}}', 'latency must be a list'],
    ['{"latency": [{"quantile": 1.5}]}', 'latency[0].quantile must be a number above 0 and below 1'],
    [
      '{"latency": [{"quantile": 0.5, "margin": 2}]}',
      'latency[0].margin 2 × (1 − quantile 0.5) is at least 1',
    ],
    ['{"errors": false, "latency": false}', 'nothing to decide'],
  ])('%s is refused: %s', (text, message) => {
    expect(() => parseJudgeSettings(text)).toThrow(message);
  });
});

describe('judgeTraffic', () => {
  const arm = (requests: number, errors: number): ArmObservations => ({
    requests,
    errors,
    latencyBuckets: { '0.1': requests, '+Inf': requests },
  });
  const window = { from: new Date(0), to: new Date(60_000) };

  it('without canary traffic it plans with the weight and cannot time the wait', () => {
    const decision = judgeTraffic(
      parseJudgeSettings('{}'),
      { canary: arm(0, 0), primary: arm(0, 0), ...window },
      0.05,
    );
    expect(decision.verdict).toBe('inconclusive');
    expect(decision.needCanaryRequests).toBeGreaterThan(100);
    expect(decision.needSeconds).toBeUndefined();
  });

  it("does not hold when the primary's own rate already exceeds what detect asks", () => {
    const decision = judgeTraffic(
      parseJudgeSettings('{"errors": {"detect": 0.01}, "latency": false}'),
      { canary: arm(10, 0), primary: arm(190, 19), ...window },
      0.05,
    );
    expect(decision.verdict).toBe('pass');
    expect(decision.notes.join()).toContain('nothing to wait for');
  });
});
