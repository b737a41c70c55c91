/**
 * Operators' requests honoured by the real engine on the in-memory world (test/support/engine-world.ts):
 * promote, abort, retry, pause and resume as docs/cli-operations.md describes them, each recorded
 * with who asked and why, and answered once.
 */
import { describe, expect, it } from 'vitest';
import { World, initializedWorld, newTestCanary } from '../../test/support/engine-world.js';
import {
  pendingRequest,
  planRequest,
  REQUEST_ANNOTATION,
  REQUEST_DONE_ANNOTATION,
  requestAnnotationValue,
  type RequestedAction,
} from './operator-requests.js';
import type { RequestAcknowledger } from './ports.js';

/** The platform's answer, as both adapters write it: the request-done annotation on the canary. */
function acknowledger(world: World): RequestAcknowledger & { answered: string[] } {
  const answered: string[] = [];
  return {
    answered,
    acknowledge: (_key, id) => {
      answered.push(id);
      world.canary.metadata.annotations = {
        ...world.canary.metadata.annotations,
        [REQUEST_DONE_ANNOTATION]: id,
      };
      return Promise.resolve();
    },
  };
}

async function tick(world: World, requests: RequestAcknowledger, times = 1): Promise<void> {
  for (let index = 0; index < times; index += 1) await world.tick({ requests });
}

function ask(world: World, action: RequestedAction, id = `id-${action}`): void {
  world.canary.metadata.annotations = {
    ...world.canary.metadata.annotations,
    [REQUEST_ANNOTATION]: requestAnnotationValue({
      action,
      id,
      by: 'alice',
      reason: `because ${action}`,
      at: '2026-11-23T10:00:00Z',
    }),
  };
}

/** A canary analysing rev-2 at 40% (two steps of 20). */
async function progressingWorld(): Promise<{ world: World; requests: ReturnType<typeof acknowledger> }> {
  const world = await initializedWorld();
  const requests = acknowledger(world);
  await tick(world, requests, 3);
  expect(world.phase).toBe('Progressing');
  expect(world.routes.canaryWeight).toBe(40);
  return { world, requests };
}

const requestDecisions = (world: World) => world.decisionHistory.filter((d) => d.action === 'request');

describe('operator requests: the engine honours each once and records who asked why', () => {
  it('promote: Succeeded in the next tick without further checks, recorded and answered once', async () => {
    const { world, requests } = await progressingWorld();
    world.successRate = 10; // a check would fail: promote must not run one
    const queries = world.calls.filter((call) => call === 'successRate').length;
    ask(world, 'promote');
    await tick(world, requests);
    expect(world.phase).toBe('Succeeded');
    expect(world.primaryHash).toBe('rev-2');
    expect(world.routes).toMatchObject({ primaryWeight: 100, canaryWeight: 0 });
    expect(world.calls.filter((call) => call === 'successRate').length).toBe(queries);
    expect(world.status.lastPromotedSpec).toBe('rev-2');
    expect(requests.answered).toEqual(['id-promote']);
    const [decision] = requestDecisions(world);
    expect(decision?.request).toMatchObject({ action: 'promote', by: 'alice', reason: 'because promote' });
    expect(decision?.request?.honoured).toBe(true);
    expect(decision?.message).toContain('promote requested by alice (because promote)');
    // Answered: later ticks neither act nor record it again, and nothing new starts.
    await tick(world, requests, 3);
    expect(requestDecisions(world)).toHaveLength(1);
    expect(world.phase).toBe('Succeeded');
  });

  it('abort: rolls back in the next tick with a warn alert naming who and why', async () => {
    const { world, requests } = await progressingWorld();
    ask(world, 'abort');
    await tick(world, requests);
    expect(world.phase).toBe('Failed');
    expect(world.routes).toMatchObject({ primaryWeight: 100, canaryWeight: 0 });
    expect(world.targetScaledToZero).toBe(true);
    expect(world.alerts).toContainEqual({
      severity: 'warn',
      text: 'Rolling back: abort requested by alice: because abort',
    });
    expect(
      world.events.some((e) => e.type === 'Warning' && e.message.includes('abort requested by alice')),
    ).toBe(true);
    expect(requests.answered).toEqual(['id-abort']);
    expect(world.decisionHistory.map((d) => d.action).slice(-2)).toEqual(['request', 'rollback']);
  });

  it('retry: a Failed revision is analysed again from weight 0, without a new spec, and can succeed', async () => {
    const { world, requests } = await progressingWorld();
    ask(world, 'abort');
    await tick(world, requests);
    expect(world.phase).toBe('Failed');
    await tick(world, requests, 2);
    expect(world.phase).toBe('Failed'); // nothing changes by itself
    ask(world, 'retry');
    await tick(world, requests);
    expect(world.phase).toBe('Progressing');
    expect(world.status).toMatchObject({ failedChecks: 0, iterations: 0, lastAppliedSpec: 'rev-2' });
    for (let index = 0; index < 20 && world.phase !== 'Succeeded'; index += 1) await tick(world, requests);
    expect(world.phase).toBe('Succeeded');
    expect(world.primaryHash).toBe('rev-2');
    expect(requests.answered).toEqual(['id-abort', 'id-retry']);
  });

  it('pause holds the weight across several intervals without counting failures; resume continues', async () => {
    const { world, requests } = await progressingWorld();
    world.canary.spec.suspend = true;
    ask(world, 'pause');
    world.successRate = 10; // would fail every check if checks ran
    await tick(world, requests, 4);
    expect(world.routes.canaryWeight).toBe(40);
    expect(world.status.failedChecks).toBe(0);
    expect(world.phase).toBe('Progressing');
    expect(requestDecisions(world).map((d) => d.message)).toEqual([
      'Paused podinfo.test: pause requested by alice (because pause); the weight holds and no check runs',
    ]);
    world.successRate = 100;
    world.canary.spec.suspend = false;
    ask(world, 'resume');
    await tick(world, requests);
    expect(world.routes.canaryWeight).toBeGreaterThan(40);
    expect(requestDecisions(world).at(-1)?.request).toMatchObject({ action: 'resume', honoured: true });
    expect(requests.answered).toEqual(['id-pause', 'id-resume']);
  });

  it('a request to a paused canary is answered as not honoured, so none waits unseen', async () => {
    const { world, requests } = await progressingWorld();
    world.canary.spec.suspend = true;
    ask(world, 'promote');
    await tick(world, requests);
    expect(world.phase).toBe('Progressing');
    expect(requestDecisions(world).at(-1)?.request).toMatchObject({ action: 'promote', honoured: false });
    expect(requestDecisions(world).at(-1)?.message).toContain('vireo resume it first');
    expect(requests.answered).toEqual(['id-promote']);
  });

  it('a request that cannot apply in the phase is recorded as not honoured, with why, and answered', async () => {
    const { world, requests } = await progressingWorld();
    ask(world, 'retry');
    await tick(world, requests);
    const decision = requestDecisions(world).at(-1);
    expect(decision?.request?.honoured).toBe(false);
    expect(decision?.message).toContain('phase Progressing is not Failed');
    expect(world.phase).toBe('Progressing'); // the analysis goes on in the same tick
    expect(world.routes.canaryWeight).toBeGreaterThan(40);
  });

  it('a malformed annotation is a Warning naming it and what to do, answered once, never a crash', async () => {
    const { world, requests } = await progressingWorld();
    world.canary.metadata.annotations = { [REQUEST_ANNOTATION]: '{"action":"explode"}' };
    await tick(world, requests, 3);
    expect(world.engineErrors).toEqual([]);
    const warnings = world.events.filter((e) =>
      e.message.includes(`Ignoring annotation ${REQUEST_ANNOTATION}`),
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.type).toBe('Warning');
    expect(warnings[0]?.message).toContain('"action" must be one of promote, abort, pause, resume, retry');
    expect(warnings[0]?.message).toContain('--reason');
    expect(requests.answered).toHaveLength(1);
    expect(world.phase).not.toBe('Failed'); // the analysis went on
  });

  it('without an acknowledger the engine leaves requests alone (it could not answer them once)', async () => {
    const world = await initializedWorld();
    await world.tick();
    await world.tick();
    ask(world, 'abort');
    await world.tick();
    expect(world.phase).toBe('Progressing');
    expect(requestDecisions(world)).toEqual([]);
  });
});

describe('operator requests: the rule', () => {
  it('a request already answered is not pending; a changed one is', () => {
    const value = requestAnnotationValue({
      action: 'abort',
      id: 'a1',
      by: 'bob',
      reason: 'r',
      at: '2026-01-01T00:00:00Z',
    });
    expect(pendingRequest({ [REQUEST_ANNOTATION]: value, [REQUEST_DONE_ANNOTATION]: 'a1' })).toEqual({
      kind: 'none',
    });
    expect(pendingRequest({ [REQUEST_ANNOTATION]: value, [REQUEST_DONE_ANNOTATION]: 'a0' }).kind).toBe(
      'request',
    );
    expect(pendingRequest(undefined)).toEqual({ kind: 'none' });
  });

  it('names the field that is wrong', () => {
    const bad = (value: object) => pendingRequest({ [REQUEST_ANNOTATION]: JSON.stringify(value) });
    const base = { action: 'abort', id: 'x', by: 'b', reason: 'r', at: '2026-01-01T00:00:00Z' };
    expect(bad({ ...base, reason: ' ' })).toMatchObject({
      kind: 'malformed',
      problem: expect.stringContaining('"reason"'),
    });
    expect(bad({ ...base, at: 'yesterday' })).toMatchObject({ problem: expect.stringContaining('"at"') });
    expect(pendingRequest({ [REQUEST_ANNOTATION]: 'abort!' })).toMatchObject({ problem: 'it is not JSON' });
  });

  it('abort applies to an analysis or a revision waiting for approval, never to a promotion under way', () => {
    const request = { action: 'abort' as const, id: 'x', by: 'b', reason: 'r', at: '' };
    const plan = (phase: string) =>
      planRequest(request, { phase: phase as never, suspended: false, canaryName: 'c' }).kind;
    expect(['Progressing', 'WaitingPromotion', 'Waiting'].map(plan)).toEqual(['abort', 'abort', 'abort']);
    expect(['Promoting', 'Finalising', 'Succeeded', 'Failed'].map(plan)).toEqual([
      'note',
      'note',
      'note',
      'note',
    ]);
  });
});

describe('decisions say when the next step comes', () => {
  it('a 2s interval under --min-analysis-interval 1s says "next step in 2s", not the default floor of 10s', async () => {
    const world = await initializedWorld(newTestCanary({ interval: '2s' }));
    await world.tick({ minIntervalMs: 1000 });
    expect(world.decisionHistory.at(-1)?.next).toBe('next step in 2s');
    await world.tick();
    // Without the flag the controller ticks at the 10s floor, and says so.
    expect(world.decisionHistory.at(-1)?.next).toBe('next step in 10s');
  });
});
