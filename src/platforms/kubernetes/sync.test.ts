import { describe, expect, it } from 'vitest';
import type { KubeClient } from './client.js';
import { CanarySync, type CanaryObject } from './sync.js';

/** A Canary without spec.provider and without ingressRef: fine on kubernetes, not runnable on nginx. */
function canaryWithoutProvider(): CanaryObject {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', uid: 'u1', generation: 1 },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: { interval: '1m', threshold: 2, iterations: 5 },
    },
  };
}

function syncFor(meshProvider: string): { sync: CanarySync; events: string[] } {
  const events: string[] = [];
  const sync = new CanarySync({
    client: { mergePatch: () => Promise.resolve({}) } as unknown as KubeClient,
    status: { update: (_key, change) => Promise.resolve(change({})) },
    events: {
      emit: (_canary, _type, message) => {
        events.push(message);
        return Promise.resolve();
      },
    },
    finalize: () => Promise.resolve(),
    now: () => new Date(0),
    logger: { info: () => undefined, warn: () => undefined },
    meshProvider,
  });
  return { sync, events };
}

describe('CanarySync validation with the controller mesh provider', () => {
  it('given --mesh-provider nginx and a canary without spec.provider nor ingressRef, when syncing, then it is not scheduled and the event names the missing field', async () => {
    const { sync, events } = syncFor('nginx');
    const outcome = await sync.sync(canaryWithoutProvider());
    expect(outcome).toMatchObject({ schedule: false });
    expect(events).toEqual([
      expect.stringContaining('spec.ingressRef: the nginx provider needs spec.ingressRef'),
    ]);
  });

  it('given --mesh-provider kubernetes and the same canary, when syncing, then it is scheduled', async () => {
    const { sync, events } = syncFor('kubernetes');
    expect(await sync.sync(canaryWithoutProvider())).toEqual({ schedule: true, intervalMs: 60_000 });
    expect(events).toEqual([]);
  });

  it('given a canary naming its own provider, when syncing, then its spec.provider wins over the mesh provider', async () => {
    const { sync } = syncFor('nginx');
    const canary = canaryWithoutProvider();
    canary.spec.provider = 'kubernetes';
    expect(await sync.sync(canary)).toMatchObject({ schedule: true });
  });
});

describe('CanarySync marks a new canary Initializing', () => {
  it('given a canary without status, when syncing, then its status has every counter Flagger writes, failedChecks 0 included', async () => {
    const written: unknown[] = [];
    const sync = new CanarySync({
      client: { mergePatch: () => Promise.resolve({}) } as unknown as KubeClient,
      status: {
        update: (_key, change) => {
          const status = change({});
          written.push(status);
          return Promise.resolve(status);
        },
      },
      events: { emit: () => Promise.resolve() },
      finalize: () => Promise.resolve(),
      now: () => new Date('2026-12-06T21:00:00Z'),
      logger: { info: () => undefined, warn: () => undefined },
      meshProvider: 'kubernetes',
    });
    await sync.sync(canaryWithoutProvider());
    expect(written).toEqual([
      expect.objectContaining({ phase: 'Initializing', failedChecks: 0, canaryWeight: 0, iterations: 0 }),
    ]);
  });
});
