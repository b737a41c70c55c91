import { describe, expect, it } from 'vitest';
import type { Canary } from '../api/schema/canary.js';
import { AlertOutbox, type AlertDropReason, type AlertOutboxRecorder } from './alert-outbox.js';
import type { AlertSender } from './engine.js';
import type { AlertSeverity } from './ports.js';

function canary(name: string): Canary {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name, namespace: 'test' },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      analysis: { interval: '1m', threshold: 2, stepWeight: 10 },
    },
  };
}

/** A destination whose deliveries finish only when the test says so. */
function heldDestination() {
  const started: string[] = [];
  const finished: string[] = [];
  const releases: (() => void)[] = [];
  const sender: AlertSender = {
    send: (target: Canary, _severity: AlertSeverity, text: string) => {
      started.push(`${target.metadata.name}:${text}`);
      return new Promise<void>((resolve) =>
        releases.push(() => {
          finished.push(`${target.metadata.name}:${text}`);
          resolve();
        }),
      );
    },
  };
  /** Lets the oldest held delivery finish, once one is held. */
  const releaseNext = async (): Promise<void> => {
    await expect.poll(() => releases.length, { timeout: 10_000 }).toBeGreaterThan(0);
    releases.shift()?.();
  };
  return { sender, started, finished, releaseNext, held: () => releases.length };
}

function recorder() {
  const queued: number[] = [];
  const dropped: AlertDropReason[] = [];
  const record: AlertOutboxRecorder = {
    setAlertsQueued: (count) => queued.push(count),
    countAlertDropped: (reason) => dropped.push(reason),
  };
  return { record, queued, dropped };
}

describe('AlertOutbox', () => {
  it('returns to the tick at once while the delivery is still running, and delivers it', async () => {
    const destination = heldDestination();
    const outbox = new AlertOutbox({ deliver: destination.sender });
    await outbox.send(canary('podinfo'), 'error', 'Failed checks threshold reached 2');
    // The tick is back while the chat service still has the message.
    expect(outbox.pending).toBe(1);
    expect(destination.finished).toEqual([]);
    await destination.releaseNext();
    expect(await outbox.drain(10_000)).toBe(true);
    expect(destination.finished).toEqual(['podinfo:Failed checks threshold reached 2']);
    expect(outbox.pending).toBe(0);
  });

  it("keeps each canary's alerts in order, and one canary's slow chat service does not hold another's", async () => {
    const destination = heldDestination();
    const outbox = new AlertOutbox({ deliver: destination.sender });
    await outbox.send(canary('a'), 'info', 'New revision detected, progressing canary analysis.');
    await outbox.send(canary('a'), 'info', 'Canary analysis completed successfully, promotion finished.');
    await outbox.send(canary('b'), 'error', 'Failed checks threshold reached 2');
    // a's first message and b's message are both in delivery; a's second waits for a's first.
    await expect
      .poll(() => destination.started, { timeout: 10_000 })
      .toEqual([
        'a:New revision detected, progressing canary analysis.',
        'b:Failed checks threshold reached 2',
      ]);
    expect(outbox.pending).toBe(3);
    await destination.releaseNext();
    await destination.releaseNext();
    await destination.releaseNext();
    expect(await outbox.drain(10_000)).toBe(true);
    expect(destination.finished.filter((entry) => entry.startsWith('a:'))).toEqual([
      'a:New revision detected, progressing canary analysis.',
      'a:Canary analysis completed successfully, promotion finished.',
    ]);
  });

  it('bounds what waits per canary: the oldest waiting alert is dropped and counted, the newest kept', async () => {
    const destination = heldDestination();
    const counts = recorder();
    const outbox = new AlertOutbox({
      deliver: destination.sender,
      maxQueuedPerCanary: 2,
      recorder: counts.record,
    });
    for (const text of ['first', 'second', 'third', 'fourth', 'fifth'])
      await outbox.send(canary('podinfo'), 'info', text);
    // "first" is in delivery; of the four that waited, only the two newest are kept.
    expect(counts.dropped).toEqual(['queue-full', 'queue-full']);
    expect(outbox.pending).toBe(3);
    for (let released = 0; released < 3; released += 1) await destination.releaseNext();
    expect(await outbox.drain(10_000)).toBe(true);
    expect(destination.finished).toEqual(['podinfo:first', 'podinfo:fourth', 'podinfo:fifth']);
    expect(counts.queued.at(-1)).toBe(0);
    expect(Math.max(...counts.queued)).toBe(3);
  });

  it('moves on after the delivery deadline when a destination never finishes', async () => {
    const sent: string[] = [];
    const warnings: string[] = [];
    const outbox = new AlertOutbox({
      deliver: {
        send: (_canary, _severity, text) => {
          sent.push(text);
          // The first delivery ignores every timeout and never settles.
          return text === 'stuck' ? new Promise<void>(() => undefined) : Promise.resolve();
        },
      },
      deliveryDeadlineMs: 50,
      logger: { warn: (_fields, message) => warnings.push(message) },
    });
    await outbox.send(canary('podinfo'), 'info', 'stuck');
    await outbox.send(canary('podinfo'), 'error', 'Failed checks threshold reached 2');
    expect(await outbox.drain(30_000)).toBe(true);
    expect(sent).toEqual(['stuck', 'Failed checks threshold reached 2']);
    expect(warnings).toEqual(['alert delivery still running after its deadline; sending the next alert']);
  });

  it('keeps delivering after a destination throws or rejects', async () => {
    const sent: string[] = [];
    const outbox = new AlertOutbox({
      deliver: {
        send: (_canary, _severity, text) => {
          sent.push(text);
          if (text === 'throws') throw new Error('broken notifier');
          if (text === 'rejects') return Promise.reject(new Error('broken notifier'));
          return Promise.resolve();
        },
      },
    });
    for (const text of ['throws', 'rejects', 'delivered']) await outbox.send(canary('podinfo'), 'info', text);
    expect(await outbox.drain(10_000)).toBe(true);
    expect(sent).toEqual(['throws', 'rejects', 'delivered']);
  });

  it('at close, delivers what it can within the deadline, then drops and counts the rest and refuses new alerts', async () => {
    const destination = heldDestination();
    const counts = recorder();
    const outbox = new AlertOutbox({ deliver: destination.sender, recorder: counts.record });
    await outbox.send(canary('podinfo'), 'info', 'in delivery');
    await outbox.send(canary('podinfo'), 'info', 'waiting');
    expect(await outbox.close(50)).toBe(false);
    expect(counts.dropped).toEqual(['shutdown']);
    await outbox.send(canary('podinfo'), 'info', 'after close');
    expect(counts.dropped).toEqual(['shutdown', 'shutdown']);
    await destination.releaseNext();
    expect(await outbox.drain(10_000)).toBe(true);
    expect(destination.started).toEqual(['podinfo:in delivery']);
  });

  it('delivers a snapshot of the canary as it was when the alert was sent', async () => {
    const seen: (string | undefined)[] = [];
    let release: () => void = () => undefined;
    const outbox = new AlertOutbox({
      deliver: {
        send: (target, _severity, text) => {
          seen.push(target.status?.phase);
          return text === 'held' ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
        },
      },
    });
    await outbox.send(canary('podinfo'), 'info', 'held');
    const target: Canary = { ...canary('podinfo'), status: { phase: 'Progressing' } };
    await outbox.send(target, 'info', 'New revision detected, progressing canary analysis.');
    // The engine goes on changing its canary while the alert waits for the first one.
    target.status = { phase: 'Failed' };
    release();
    expect(await outbox.drain(10_000)).toBe(true);
    expect(seen).toEqual([undefined, 'Progressing']);
  });
});
