/**
 * The events the engine emits where Flagger emits them, in Flagger's words (alert rules and
 * scripts wait for these strings), and the phase each one carries to the event webhook
 * (docs/flagger-compatibility.md#5-webhooks "event"). Issue 22 items 4 to 6.
 */
import { describe, expect, it } from 'vitest';
import { World, initializedWorld, newTestCanary, refused } from '../../test/support/engine-world.js';
import type { MetricTemplate } from '../api/schema/metric-template.js';

async function runUntil(world: World, phases: string[], limit = 40): Promise<void> {
  for (let tick = 0; tick < limit; tick += 1) {
    await world.tick();
    if (phases.includes(world.phase)) return;
  }
  throw new Error(`still ${world.phase} after ${limit} ticks`);
}

const hookEvents = (world: World): string[] =>
  world
    .messages()
    .filter((message) => / check .* passed$|not signaling a rollback$|^Post-rollout hook/.test(message));

function template(name: string): MetricTemplate {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'MetricTemplate',
    metadata: { name, namespace: 'test' },
    spec: { provider: { type: 'prometheus', address: 'http://prometheus:9090' }, query: 'vector(1)' },
  };
}

describe('engine: hook events, as Flagger words them', () => {
  it('each gate and pre/post-rollout hook that passes says so, rollout hooks pass silently, rollback hooks say they did not ask', async () => {
    const hooks = [
      'confirm-rollout',
      'pre-rollout',
      'rollout',
      'confirm-traffic-increase',
      'confirm-promotion',
      'post-rollout',
      'rollback',
    ].map((type) => ({ name: `${type}-hook`, type, url: `http://hooks/${type}` }));
    const world = await initializedWorld(newTestCanary({ stepWeight: 50, maxWeight: 50, webhooks: hooks }));
    world.hookAnswers.set('rollback-hook', refused('no rollback asked', 404));
    await runUntil(world, ['Succeeded']);
    expect(world.phase).toBe('Succeeded');
    expect(hookEvents(world)).toEqual([
      'Confirm-rollout check confirm-rollout-hook passed',
      'Rollback hook rollback-hook not signaling a rollback',
      'Pre-rollout check pre-rollout-hook passed',
      'Confirm-traffic-increase check confirm-traffic-increase-hook passed',
      'Rollback hook rollback-hook not signaling a rollback',
      'Confirm-traffic-increase check confirm-traffic-increase-hook passed',
      'Confirm-promotion check confirm-promotion-hook passed',
      'Post-rollout check post-rollout-hook passed',
    ]);
    // Each passed event comes right after its hook's call, before the step it allowed.
    const messages = world.messages();
    expect(messages.indexOf('Pre-rollout check pre-rollout-hook passed')).toBeGreaterThan(
      messages.indexOf('Starting canary analysis for podinfo.test'),
    );
    expect(messages.indexOf('Confirm-promotion check confirm-promotion-hook passed')).toBeLessThan(
      messages.indexOf('Copying podinfo.test template spec to podinfo-primary.test'),
    );
    expect(world.events.filter((event) => / passed$|not signaling/.test(event.message))).toSatisfy(
      (events: { type: string }[]) => events.every((event) => event.type === 'Normal'),
    );
  });

  it('a rollback hook that asks for a rollback: Warning "Rollback check NAME passed", then the rollback', async () => {
    const world = await initializedWorld(
      newTestCanary({ webhooks: [{ name: 'abort', type: 'rollback', url: 'http://hooks/abort' }] }),
    );
    await world.tick();
    await world.tick();
    expect(world.phase).toBe('Failed');
    const from = world.messages().indexOf('Rollback check abort passed');
    expect(world.events.slice(from, from + 2)).toEqual([
      { type: 'Warning', message: 'Rollback check abort passed' },
      { type: 'Warning', message: 'Rolling back podinfo.test manual webhook invoked' },
    ]);
  });

  it('a post-rollout hook that fails: Warning "Post-rollout hook NAME failed BODY"; the canary stays Succeeded', async () => {
    const world = await initializedWorld(
      newTestCanary({ webhooks: [{ name: 'notify', type: 'post-rollout', url: 'http://hooks/notify' }] }),
    );
    world.hookAnswers.set('notify', refused('chat is down', 500));
    await runUntil(world, ['Succeeded']);
    expect(world.events).toContainEqual({
      type: 'Warning',
      message: 'Post-rollout hook notify failed chat is down',
    });
    expect(world.messages()).not.toContain('Post-rollout check notify passed');
    expect(world.phase).toBe('Succeeded');
  });
});

describe("engine: Flagger's metric provider check while initializing", () => {
  const withMetrics = () =>
    newTestCanary({
      metrics: [
        { name: 'request-success-rate', thresholdRange: { min: 99 } },
        { name: 'latency', templateRef: { name: 'latency' }, thresholdRange: { max: 500 } },
      ],
    });

  it('all providers answer: "all the metrics providers are available!" on each Initializing tick, never after', async () => {
    const world = new World(withMetrics());
    world.templates.set('test/latency', template('latency'));
    world.primaryReady = { ready: false, retriable: true, reason: 'waiting for rollout to finish' };
    await world.tick();
    world.primaryReady = { ready: true };
    await world.tick();
    expect(world.phase).toBe('Initialized');
    world.release('rev-2');
    await world.tick();
    await world.tick();
    expect(
      world.events.filter((event) => event.message === 'all the metrics providers are available!'),
    ).toEqual([
      { type: 'Normal', message: 'all the metrics providers are available!' },
      { type: 'Normal', message: 'all the metrics providers are available!' },
    ]);
    expect(world.messages().indexOf('all the metrics providers are available!')).toBe(0);
  });

  it.each([
    [
      'the metrics server of the built-in checks is down',
      (world: World) => {
        world.templates.set('test/latency', template('latency'));
        world.metricsServerOnline = new Error('connect ECONNREFUSED 127.0.0.1:9090');
      },
      'Error checking metric providers: prometheus not available: connect ECONNREFUSED 127.0.0.1:9090',
    ],
    [
      'a MetricTemplate does not exist',
      () => undefined,
      'Error checking metric providers: metric template latency.test error: not found',
    ],
    [
      "a MetricTemplate's provider does not answer",
      (world: World) => {
        world.templates.set('test/latency', template('latency'));
        world.templateOnline.set('latency', new Error('prometheus: HTTP 503'));
      },
      'Error checking metric providers: prometheus in metric template latency.test not available: prometheus: HTTP 503',
    ],
  ])('%s: a Warning saying which, and the initialization goes on', async (_name, arrange, warning) => {
    const world = new World(withMetrics());
    arrange(world);
    await world.tick();
    expect(world.events[0]).toEqual({ type: 'Warning', message: warning });
    expect(world.messages()).not.toContain('all the metrics providers are available!');
    expect(world.phase).toBe('Initialized');
  });

  it('a canary that skips its analysis is not checked (as Flagger)', async () => {
    const world = new World(newTestCanary({}, { skipAnalysis: true }));
    world.metricsServerOnline = new Error('down');
    await world.tick();
    expect(world.messages().filter((message) => /metrics providers|metric providers/.test(message))).toEqual(
      [],
    );
  });
});

describe('engine: the phase each event carries to the event webhook', () => {
  const audited = (analysis: Record<string, unknown> = {}) =>
    newTestCanary({ ...analysis, webhooks: [{ name: 'audit', type: 'event', url: 'http://audit/' }] });

  const phases = (world: World): [string, string][] =>
    world.hookCalls
      .filter((call) => call.hook.name === 'audit')
      .map((call) => [call.payload.metadata?.['eventMessage'] ?? '', call.payload.phase]);

  it('the phase before the step (Flagger), except the phases Flagger reports as entered', async () => {
    const world = new World(audited());
    world.primaryReady = {
      ready: false,
      retriable: true,
      reason: 'podinfo-primary.test not ready: waiting for rollout to finish',
    };
    await world.tick();
    world.primaryReady = { ready: true };
    await world.tick();
    world.release('rev-2');
    await runUntil(world, ['Succeeded']);
    expect(phases(world)).toEqual([
      ['all the metrics providers are available!', 'Initializing'],
      ['podinfo-primary.test not ready: waiting for rollout to finish', 'Initializing'],
      ['all the metrics providers are available!', 'Initializing'],
      ['Initialization done! podinfo.test', 'Initialized'],
      ['New revision detected! Scaling up podinfo.test', 'Progressing'],
      ['Starting canary analysis for podinfo.test', 'Progressing'],
      ['Advance podinfo.test canary weight 20', 'Progressing'],
      ['Advance podinfo.test canary weight 40', 'Progressing'],
      ['Advance podinfo.test canary weight 60', 'Progressing'],
      ['Copying podinfo.test template spec to podinfo-primary.test', 'Progressing'],
      ['Routing all traffic to primary', 'Promoting'],
      ['Promotion completed! Scaling down podinfo.test', 'Finalising'],
    ]);
  });

  it('a rollback: the halts and the threshold with Progressing, "Canary failed!" with Failed', async () => {
    const world = await initializedWorld(
      audited({ threshold: 1, metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }] }),
    );
    await world.tick();
    await world.tick();
    world.successRate = 50;
    await world.tick();
    await world.tick();
    expect(world.phase).toBe('Failed');
    expect(phases(world).slice(-3)).toEqual([
      ['Halt podinfo.test advancement success rate 50.00% < 99%', 'Progressing'],
      ['Rolling back podinfo.test failed checks threshold reached 1', 'Progressing'],
      ['Canary failed! Scaling down podinfo.test', 'Failed'],
    ]);
  });
});

describe('engine: status details as Flagger writes them', () => {
  it.each([
    ['A/B testing', { match: [{ headers: { 'x-canary': { exact: 'insider' } } }] }],
    ['blue/green', {}],
  ])(
    '%s: the status weight stays 0 while Promoting, though the routes send the canary everything',
    async (_name, analysis) => {
      const world = await initializedWorld(
        newTestCanary({ stepWeight: undefined, maxWeight: undefined, iterations: 2, ...analysis }),
      );
      const seen: [string, number | undefined][] = [];
      for (let tick = 0; tick < 20 && world.phase !== 'Succeeded'; tick += 1) {
        await world.tick();
        seen.push([world.phase, world.status.canaryWeight]);
      }
      expect(seen.filter(([phase]) => phase === 'Promoting').length).toBeGreaterThan(0);
      expect(seen.filter(([, weight]) => weight !== 0)).toEqual([]);
    },
  );
});
