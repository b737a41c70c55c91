/**
 * Local mode runs the engine as the controller does (src/engine/assembly.ts): alerts leave the
 * tick through the alert outbox, so a chat service that never answers holds no canary up; and a
 * check registered as a new kind (the sequential judge's seam) reads both arms' traffic through
 * its context, counted from the start of the revision's analysis. Real processes and real HTTP
 * on loopback.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertProvider } from '../../src/api/schema/alert-provider.js';
import type { Canary } from '../../src/api/schema/canary.js';
import { DEFAULT_CHECK_REGISTRY, type ArmTraffic, type CheckContext } from '../../src/engine/checks.js';
import { createSystemClock } from '../../src/loadtester/clock.js';
import { runLoad } from '../../src/loadtester/load.js';
import type { LocalManifests } from '../../src/platforms/local/manifest.js';
import { LocalRuntime } from '../../src/platforms/local/runtime.js';
import { findFreePort } from '../../src/platforms/local/supervisor.js';
import { demoServiceManifests, until } from '../support/local-manifests.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function stateDirectory(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'vireo-local-seams-'));
  cleanups.push(() => rm(path, { recursive: true, force: true }));
  return path;
}

function manifests(
  port: number,
  version: string,
  extra: Partial<Canary['spec']['analysis']> = {},
): LocalManifests {
  return demoServiceManifests({
    port,
    env: { VERSION: version },
    analysis: { interval: '10s', threshold: 5, maxWeight: 50, stepWeight: 10, ...extra },
  });
}

describe('local mode on the shared engine assembly', () => {
  it('a chat service that never answers holds up no tick: the next revision starts while the first alert waits', async () => {
    const held: ServerResponse[] = [];
    const chat = createServer((_request: IncomingMessage, response: ServerResponse) => {
      held.push(response); // never answered
    });
    await new Promise<void>((resolve) => chat.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      if (chat.listening) await new Promise<void>((resolve) => chat.close(() => resolve()));
    });
    const chatUrl = `http://127.0.0.1:${(chat.address() as AddressInfo).port}/hook`;
    const provider: AlertProvider = {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'AlertProvider',
      metadata: { name: 'chat', namespace: 'test' },
      spec: { type: 'slack', channel: 'releases', address: chatUrl },
    };
    const port = await findFreePort();
    const withAlerts = (version: string): LocalManifests => {
      const base = manifests(port, version, {
        alerts: [{ name: 'chat', severity: 'info', providerRef: { name: 'chat' } }],
      });
      return { ...base, alertProviders: [provider] };
    };
    const directory = await stateDirectory();
    const runtime = await LocalRuntime.start(withAlerts('1.0.0'), {
      stateDirectory: directory,
      speed: 10,
      // One attempt that would wait ten minutes for an answer: only the outbox keeps ticks going.
      notifierTransport: { timeoutMs: 600_000, attempts: 1 },
    });
    cleanups.push(async () => {
      // The chat service goes away first, so stopping does not wait for the queued deliveries.
      const closed = new Promise<void>((resolve) => chat.close(() => resolve()));
      chat.closeAllConnections();
      await closed;
      await runtime.stop();
    });
    await until(() => runtime.status()[0]?.phase === 'Initialized', 60_000, 'initialization');
    await until(() => held.length === 1, 30_000, 'the initialization alert to reach the chat service');

    await runtime.apply(withAlerts('2.0.0'));
    await until(
      () =>
        ['Progressing', 'Promoting', 'Finalising', 'Succeeded'].includes(runtime.status()[0]?.phase ?? ''),
      60_000,
      'the new revision to start while the chat service still holds the first alert',
    );
    // The first alert is still unanswered; the second waits behind it, in order.
    expect(held).toHaveLength(1);
    const alerts = (await readFile(join(directory, 'alerts.log'), 'utf8').catch(() => ''))
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => (JSON.parse(line) as { message: string }).message);
    expect(alerts.slice(0, 2)).toEqual([
      'New Workload detected, initialization completed.',
      'New revision detected, progressing canary analysis.',
    ]);
    const metrics = await (await fetch(runtime.metricsUrl)).text();
    expect(metrics).toMatch(/^vireo_alerts_queued [1-9]/m);
  }, 180_000);

  it('a check kind registered beside the built-in ones reads both arms from the analysis start', async () => {
    const seen: { context: CheckContext; traffic: ArmTraffic }[] = [];
    const checkKinds = DEFAULT_CHECK_REGISTRY.with({
      name: 'arm-probe',
      forCanary: () => [
        {
          name: 'arm-probe',
          evaluate: async (context) => {
            const traffic = await context.ports.observations!.observe(
              context.canary,
              context.analysisStartedAt,
            );
            seen.push({ context, traffic });
            // Holds the weight, as an undecided judge would: the analysis keeps running.
            return { check: 'arm-probe', verdict: 'inconclusive', message: 'arm-probe: need more requests' };
          },
        },
      ],
    });
    const port = await findFreePort();
    const runtime = await LocalRuntime.start(manifests(port, '1.0.0'), {
      stateDirectory: await stateDirectory(),
      speed: 10,
      checkKinds,
    });
    cleanups.push(() => runtime.stop());
    await until(() => runtime.status()[0]?.phase === 'Initialized', 60_000, 'initialization');
    const load = new AbortController();
    cleanups.push(() => Promise.resolve(load.abort()));
    void runLoad(
      {
        url: new URL(`http://127.0.0.1:${port}/`),
        method: 'GET',
        durationMs: 120_000,
        qps: 40,
        concurrency: 2,
        headers: {},
      },
      { clock: createSystemClock(), signal: load.signal },
    );
    await runtime.apply(manifests(port, '2.0.0'));
    await until(
      () => seen.some(({ traffic }) => traffic.canary.requests > 0 && traffic.primary.requests > 0),
      60_000,
      'a check to see traffic on both arms',
    );
    const { context, traffic } = seen.find(({ traffic: arms }) => arms.canary.requests > 0)!;
    const condition = context.canary.status?.conditions?.find((candidate) => candidate.type === 'Analysing');
    expect(condition?.status).toBe('True');
    expect(context.analysisStartedAt.toISOString().replace('.000Z', 'Z')).toBe(condition?.lastTransitionTime);
    expect(traffic.from.getTime()).toBeGreaterThanOrEqual(context.analysisStartedAt.getTime());
    expect(traffic.canary.errors).toBe(0);
    // The weight held: no step beyond the first, and no failed check counted.
    expect(runtime.status()[0]).toMatchObject({ phase: 'Progressing', canaryWeight: 10, failedChecks: 0 });
  }, 180_000);
});
