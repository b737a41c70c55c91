/**
 * The engine as every platform assembles it (assembly.ts), on the in-memory world's ports: the
 * scheduler ticks canaries through the engine, alerts leave the tick through the outbox (a chat
 * service that does not answer holds nothing up), and Flagger's metrics and the decisions are
 * where users look for them.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { World, newTestCanary } from '../../test/support/engine-world.js';
import type { NotifierDeps } from '../notifiers/notifier.js';
import { createLogger } from '../shared/logger.js';
import { assembleEngine, keyOfScheduleId, scheduleId, type PlatformPorts } from './assembly.js';
import type { AlertMessage, Notifier } from './ports.js';
import type { SchedulerTimers } from './scheduler.js';

/** Timers the test fires by hand: `fire()` runs every timer due. */
function manualTimers() {
  const pending = new Map<number, { callback: () => void; ms: number }>();
  let next = 0;
  const timers: SchedulerTimers = {
    setTimeout: (callback, ms) => {
      next += 1;
      pending.set(next, { callback, ms });
      return next;
    },
    clearTimeout: (handle) => void pending.delete(handle as number),
  };
  return {
    timers,
    pending,
    fire: () => {
      const due = [...pending.entries()];
      pending.clear();
      for (const [, timer] of due) timer.callback();
    },
  };
}

function portsOf(world: World, extra: Partial<PlatformPorts> = {}) {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } });
  const ports: PlatformPorts = {
    source: world.source,
    workloads: world.workloads,
    router: world.router,
    status: world.store,
    events: world.events_,
    builtin: world.builtin,
    clock: world.clock,
    logger,
    registry: new Registry(),
    webhooks: world.webhooks,
    ...extra,
  };
  return { ports, lines };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('assembleEngine', () => {
  it('ticks each scheduled canary through the engine, at once and then on every interval', async () => {
    const world = new World(newTestCanary());
    const clock = manualTimers();
    const ticked: string[] = [];
    const { ports } = portsOf(world, { timers: clock.timers });
    const assembly = assembleEngine(ports, {
      meshProvider: 'kubernetes',
      onTick: (key) => ticked.push(scheduleId(key)),
    });
    expect(keyOfScheduleId(scheduleId(world.key))).toEqual(world.key);
    assembly.scheduler.ensure(scheduleId(world.key), 60_000);
    await until(() => world.phase === 'Initialized', 'initialization');
    world.release('rev-2');
    await until(() => clock.pending.size === 1, 'the next tick to be scheduled');
    expect([...clock.pending.values()].map((timer) => timer.ms)).toEqual([60_000]);
    clock.fire();
    await until(() => world.phase === 'Progressing', 'the new revision');
    expect(ticked).toEqual(['test/podinfo', 'test/podinfo']);
    await assembly.close();
    expect(assembly.scheduler.size).toBe(0);
  });

  it('hands alerts to the outbox: a chat service that never answers holds no tick up', async () => {
    const world = new World(newTestCanary());
    const delivered: AlertMessage[] = [];
    let answer: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const hanging: Notifier = {
      send: async (message) => {
        await answered;
        delivered.push(message);
      },
    };
    const seen: string[] = [];
    let notifierDeps: NotifierDeps | undefined;
    const { ports } = portsOf(world);
    const assembly = assembleEngine(ports, {
      meshProvider: 'kubernetes',
      globalNotifier: (deps) => {
        notifierDeps = deps;
        return hanging;
      },
      onAlert: (_canary, severity, text) => seen.push(`${severity}: ${text}`),
    });
    await assembly.engine.advance(world.key);
    world.release('rev-2');
    await assembly.engine.advance(world.key);
    // Both ticks finished although the first alert is still being delivered.
    expect(world.phase).toBe('Progressing');
    expect(seen).toEqual([
      'info: New Deployment detected, initialization completed.',
      'info: New revision detected, progressing canary analysis.',
    ]);
    expect(delivered).toEqual([]);
    expect(assembly.alerts.pending).toBe(2);
    // The global notifier reports delivery failures to the alert log and counts retries.
    expect(notifierDeps?.log).toBeTypeOf('function');
    notifierDeps?.countRetries?.('slack', 2);
    answer();
    await assembly.close();
    expect(delivered.map((message) => message.text)).toEqual([
      'New Deployment detected, initialization completed.',
      'New revision detected, progressing canary analysis.',
    ]);
    const exposition = await ports.registry.metrics();
    expect(exposition).toContain('vireo_alerts_queued 0');
    expect(exposition).toMatch(/vireo_alert_retries_total\{provider_type="slack"\} 2/);
  });

  it("exports Flagger's metrics with the mesh provider, and logs and keeps each decision", async () => {
    const world = new World(newTestCanary());
    const { ports, lines } = portsOf(world);
    const assembly = assembleEngine(ports, { meshProvider: 'local' });
    await assembly.engine.advance(world.key);
    expect(await ports.registry.metrics()).toMatch(/flagger_info\{version="[^"]+",mesh_provider="local"\} 1/);
    const [decision] = await assembly.decisions.recent(world.key);
    expect(decision).toMatchObject({ action: 'initialize', phase: 'Initialized' });
    const logged = lines.map((line) => JSON.parse(line) as { component?: string; msg?: string });
    // Logged once, by the engine, with its canary (Flagger logs it once too).
    expect(logged.filter((line) => line.msg === 'Initialization done! podinfo.test')).toEqual([
      expect.objectContaining({ component: 'engine', canary: 'podinfo.test' }),
    ]);
    await assembly.close();
  });
});
