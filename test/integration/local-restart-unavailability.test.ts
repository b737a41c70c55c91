/**
 * Restarting local mode mid-analysis: the router listens again at once, but until the resumed
 * replicas are ready it has nobody to forward to and answers 503 itself. Those answers say that
 * local mode was restarting, not that the canary is unhealthy: a healthy canary carries on and is
 * promoted, where counting them rolled it back (issue 21).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalManifests } from '../../src/platforms/local/manifest.js';
import { LocalRuntime, type LocalEvent } from '../../src/platforms/local/runtime.js';
import { findFreePort } from '../../src/platforms/local/supervisor.js';
import { demoServiceManifests, until } from '../support/local-manifests.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function manifests(port: number, version: string): LocalManifests {
  return demoServiceManifests({
    port,
    // Each replica takes 3 s to become ready: a restart leaves the router without replicas that long.
    env: { VERSION: version, READY_DELAY: '3s' },
    analysis: {
      interval: '10s',
      // One failed check rolls back: any 503 of the router's own counted against the canary shows.
      threshold: 1,
      maxWeight: 40,
      stepWeight: 20,
      metrics: [{ name: 'request-success-rate', interval: '30s', thresholdRange: { min: 99 } }],
    },
  });
}

/** GETs the service as fast as one client can until stopped; collects the statuses. */
function hammer(url: string): { statuses: number[]; stop: () => Promise<void> } {
  const statuses: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const status = await fetch(url, { signal: AbortSignal.timeout(5_000) }).then(
        async (answer) => {
          await answer.arrayBuffer();
          return answer.status;
        },
        () => 0,
      );
      statuses.push(status);
      if (status === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    statuses,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

describe('a restart of local mode', () => {
  it('does not count the router’s 503s while replicas come back against the canary', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'vireo-local-restart-'));
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const port = await findFreePort();
    const decisions: LocalEvent[] = [];
    const options = {
      stateDirectory: directory,
      speed: 10,
      onEvent: (event: LocalEvent) => {
        if (event.type === 'decision') decisions.push(event);
      },
    };
    let first: LocalRuntime | undefined = await LocalRuntime.start(manifests(port, '1.0.0'), options);
    cleanups.push(async () => first?.stop());
    await until(() => first?.status()[0]?.phase === 'Initialized', 60_000, 'initialization');
    const traffic = hammer(`http://127.0.0.1:${port}/`);
    cleanups.push(() => traffic.stop());
    await first.apply(manifests(port, '2.0.0'));
    await until(() => (first?.status()[0]?.canaryWeight ?? 0) >= 20, 60_000, 'weight 20');
    await first.stop();
    first = undefined;
    const before = traffic.statuses.length;

    const second = await LocalRuntime.start(manifests(port, '2.0.0'), options);
    cleanups.push(() => second.stop());
    // The router did answer 503 itself while the replicas came back...
    expect(traffic.statuses.slice(before)).toContain(503);
    // ...and the canary is promoted without a failed check.
    await until(
      () => ['Succeeded', 'Failed'].includes(second.status()[0]?.phase ?? ''),
      120_000,
      'the end of the analysis',
    );
    const failed = decisions.filter((event) =>
      event.decision?.checks?.some((check) => check.verdict === 'fail'),
    );
    expect(failed.map((event) => event.message)).toEqual([]);
    expect(second.status()[0]?.phase).toBe('Succeeded');
  });
});
