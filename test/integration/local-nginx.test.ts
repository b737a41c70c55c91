/**
 * `router: nginx` end to end: a LocalRuntime serves the Workload through real nginx, and the
 * canary's built-in checks come from a real Prometheus scraping the demo service's replicas.
 * A faulty revision is rolled back on Prometheus's numbers, a healthy one promoted, and nginx's
 * access log shows the canary answered clients while it had weight.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/engine/decisions.js';
import { createSystemClock } from '../../src/loadtester/clock.js';
import { runLoad } from '../../src/loadtester/load.js';
import type { LocalManifests } from '../../src/platforms/local/manifest.js';
import { parseAccessLog } from '../../src/platforms/local/routing/nginx/nginx-access-log.js';
import { LocalRuntime, type LocalEvent } from '../../src/platforms/local/runtime.js';
import { findFreePort } from '../../src/platforms/local/supervisor.js';
import { demoServiceManifests, until } from '../support/local-manifests.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * Timing at speed 10 with Prometheus scraping every second: an analysis step every 30 s of engine
 * time is 3 s of wall time, so between two checks Prometheus scrapes each replica about 3 times;
 * the metric interval of 1m becomes a 6 s window in Prometheus (it measures real time), which
 * holds ~6 scrapes, enough for rate() whatever the phase of the scrapes. threshold 2 lets a
 * healthy canary survive one unlucky check and still rolls the faulty one back within seconds.
 */
function manifests(port: number, env: Record<string, string>): LocalManifests {
  return demoServiceManifests({
    port,
    env: env,
    analysis: {
      interval: '30s',
      threshold: 2,
      maxWeight: 40,
      stepWeight: 20,
      metrics: [{ name: 'request-success-rate', interval: '1m', thresholdRange: { min: 99 } }],
    },
    router: 'nginx',
  });
}

async function promQuery(server: string, query: string): Promise<number> {
  const answer = await fetch(`${server}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await answer.json()) as { data: { result: { value: [number, string] }[] } };
  return Number(body.data.result[0]?.value[1] ?? 0);
}

describe('local mode with router: nginx', () => {
  it('rolls back a faulty canary on Prometheus metrics and promotes a healthy one through nginx', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'vireo-local-nginx-'));
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const port = await findFreePort();
    const decisions: Decision[] = [];
    const runtime = await LocalRuntime.start(manifests(port, { VERSION: '1.0.0' }), {
      stateDirectory: directory,
      speed: 10,
      onEvent: (event: LocalEvent) => {
        if (event.decision !== undefined) decisions.push(event.decision);
      },
    });
    cleanups.push(() => runtime.stop());
    await until(() => runtime.status()[0]?.phase === 'Initialized', 30_000, 'initialization');
    expect(runtime.status()[0]?.url).toBe(`http://127.0.0.1:${port}`);
    const answer = await fetch(`http://127.0.0.1:${port}/version`);
    expect(await answer.json()).toEqual({ version: '1.0.0' });

    const load = new AbortController();
    cleanups.push(() => Promise.resolve(load.abort()));
    void runLoad(
      {
        url: new URL(`http://127.0.0.1:${port}/`),
        method: 'GET',
        durationMs: 180_000,
        qps: 40,
        concurrency: 2,
        headers: {},
      },
      { clock: createSystemClock(), signal: load.signal },
    );

    // V2 fails half of its requests: rolled back on the success rate Prometheus computed.
    await runtime.apply(manifests(port, { VERSION: '2.0.0', ERROR_RATE: '0.5' }));
    await until(() => runtime.status()[0]?.phase === 'Failed', 90_000, 'rollback of 2.0.0');
    const failedChecks = decisions
      .flatMap((decision) => decision.checks ?? [])
      .filter((check) => check.check === 'request-success-rate' && check.verdict === 'fail');
    const measured = failedChecks.find((check) => check.value !== undefined);
    expect(measured?.value).toBeLessThan(99);
    // The number is Prometheus's: the built-in proxy never saw this service, and Prometheus holds
    // the canary's 500s under a pod name the kubernetes queries select.
    expect(runtime.trafficRecorder.observe('test', 'web', 15 * 60 * 1000).canary.requests).toBe(0);
    const prometheus = await runtime.prometheusUrl;
    expect(prometheus).toBeDefined();
    const canaryErrors = await promQuery(
      prometheus!,
      'sum(http_request_duration_seconds_count{kubernetes_namespace="test", ' +
        'kubernetes_pod_name=~"web-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", status="500"})',
    );
    expect(canaryErrors).toBeGreaterThan(0);
    expect(runtime.status()[0]?.canaryWeight).toBe(0);

    // V3 is healthy: promoted, and nginx then serves it from the primary.
    await runtime.apply(manifests(port, { VERSION: '3.0.0' }));
    await until(() => runtime.status()[0]?.phase === 'Succeeded', 90_000, 'promotion of 3.0.0');
    const primary = await fetch(`http://127.0.0.1:${port}/version`);
    expect(await primary.json()).toEqual({ version: '3.0.0' });

    // The canary took real client traffic through nginx while it had weight.
    const accessLog = runtime.nginxAccessLog;
    expect(accessLog).toBeDefined();
    const lines = (await readFile(accessLog!, 'utf8')).split('\n');
    const served = parseAccessLog(lines).routes['test/web'];
    expect(served?.canary.requests).toBeGreaterThan(0);
    expect(served?.canary.byStatus[500]).toBeGreaterThan(0);
    expect(lines.some((line) => line.includes('"decision":"canary-weight"'))).toBe(true);
  }, 240_000);
});
