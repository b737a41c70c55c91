/**
 * An in-memory world for engine tests: the ports `vireo simulate` runs the engine on
 * (src/simulate/in-memory-world.ts), plus crash injection: any port call can throw, before or
 * after it takes effect, to check that a restarted engine repeats nothing and misses nothing.
 */
import type { Canary } from '../../src/api/schema/canary.js';
import {
  InMemoryWorld,
  refused,
  type HookCall,
  type WorldEngineOptions,
} from '../../src/simulate/in-memory-world.js';

export { refused, type HookCall };

export class SimulatedCrash extends Error {
  constructor(call: string) {
    super(`simulated crash in ${call}`);
  }
}

export class World extends InMemoryWorld {
  /** Crash on the Nth port call (1-based), before or after the call takes effect. */
  crash: { at: number; when: 'before' | 'after' } | undefined;

  protected override async port<T>(name: string, effect: () => T | Promise<T>): Promise<T> {
    this.calls.push(name);
    const index = this.calls.length;
    if (this.crash?.at === index && this.crash.when === 'before') throw new SimulatedCrash(name);
    const result = await effect();
    if (this.crash?.at === index && this.crash.when === 'after') throw new SimulatedCrash(name);
    return result;
  }

  /** One tick with a fresh engine (the engine keeps no state between ticks), then the clock moves on. */
  async tick(options: WorldEngineOptions = {}): Promise<void> {
    await this.engine(options).advance(this.key);
    this.now = new Date(this.now.getTime() + 60_000);
  }
}

export function newTestCanary(
  analysis: Record<string, unknown> = {},
  spec: Record<string, unknown> = {},
): Canary {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      provider: 'nginx',
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: { interval: '1m', threshold: 2, maxWeight: 50, stepWeight: 20, ...analysis },
      ...spec,
    },
  };
}

/** A world whose canary is Initialized on rev-1 and has just been given rev-2. */
export async function initializedWorld(canary: Canary = newTestCanary()): Promise<World> {
  const world = new World(canary);
  await world.tick();
  if (world.phase !== 'Initialized') throw new Error(`initialization failed: ${world.phase}`);
  world.events = [];
  world.alerts = [];
  world.hookCalls = [];
  world.release('rev-2');
  return world;
}
