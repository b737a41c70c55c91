/**
 * Workloads that never become ready (issue 13, item 2): a first apply with a misspelled command
 * fails its canary at the progress deadline with an alert, and the corrected manifest takes
 * effect, applied to the running runtime or after a restart on the same state directory (what
 * `vireo local down` then `apply` does). Real processes: the demo service, and commands that
 * cannot start.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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

const MISSPELLED = 'pyhton3-vireo-test-missing';

function manifests(port: number, options: { command?: string; version?: string } = {}): LocalManifests {
  const base = demoServiceManifests({
    port,
    env: { VERSION: options.version ?? '1.0.0' },
    analysis: {
      interval: '10s',
      threshold: 3,
      maxWeight: 20,
      stepWeight: 10,
      metrics: [{ name: 'request-success-rate', interval: '15s', thresholdRange: { min: 99 } }],
    },
  });
  const canary = { ...base.canaries[0]!, spec: { ...base.canaries[0]!.spec, progressDeadlineSeconds: 30 } };
  const workload = base.workloads[0]!;
  return {
    ...base,
    canaries: [canary],
    workloads: [
      {
        ...workload,
        spec: {
          ...workload.spec,
          ...(options.command === undefined ? {} : { command: options.command, args: ['server.py'] }),
          replicas: 2,
        },
      },
    ],
  };
}

async function directory(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'vireo-local-failures-'));
  cleanups.push(() => rm(path, { recursive: true, force: true }));
  return path;
}

async function start(
  stateDirectory: string,
  initial: LocalManifests,
): Promise<{ runtime: LocalRuntime; events: LocalEvent[] }> {
  const events: LocalEvent[] = [];
  const runtime = await LocalRuntime.start(initial, {
    stateDirectory,
    speed: 10,
    onEvent: (event) => events.push(event),
  });
  cleanups.push(() => runtime.stop());
  return { runtime, events };
}

async function primaryVersion(port: number): Promise<string | undefined> {
  const answer = await fetch(`http://127.0.0.1:${port}/version`).catch(() => undefined);
  if (answer?.status !== 200) return undefined;
  return ((await answer.json()) as { version: string }).version;
}

describe('a workload that never becomes ready', () => {
  it('fails the canary at its progress deadline with an alert naming the command', async () => {
    const state = await directory();
    const port = await findFreePort();
    const { runtime, events } = await start(state, manifests(port, { command: MISSPELLED }));
    await until(() => runtime.status()[0]?.phase === 'Failed', 120_000, 'the progress deadline');
    const alert = events.find((event) => event.type === 'alert' && event.severity === 'error');
    expect(alert?.message).toMatch(/^Progress deadline exceeded /);
    expect(alert?.message).toContain(`cannot start command "${MISSPELLED}": not found`);
    expect(alert?.message).toContain('progress deadline of 30s exceeded');
    expect(await readFile(join(state, 'alerts.log'), 'utf8')).toContain('Progress deadline exceeded');
  });

  it('takes the corrected manifest applied to the running runtime', async () => {
    const state = await directory();
    const port = await findFreePort();
    const { runtime } = await start(state, manifests(port, { command: MISSPELLED }));
    await until(() => (runtime.status()[0]?.primaryReplicas ?? '') === '0/2', 60_000, 'the failed start');
    await runtime.apply(manifests(port));
    await until(() => runtime.status()[0]?.phase === 'Initialized', 120_000, 'initialization');
    expect(runtime.status()[0]?.primaryReplicas).toBe('2/2');
    expect(await primaryVersion(port)).toBe('1.0.0');
  });

  it('takes the corrected manifest after a restart, even once the deadline failed the canary', async () => {
    const state = await directory();
    const port = await findFreePort();
    const first = await start(state, manifests(port, { command: MISSPELLED }));
    await until(() => first.runtime.status()[0]?.phase === 'Failed', 120_000, 'the progress deadline');
    await first.runtime.stop();

    const second = await start(state, manifests(port));
    await until(() => second.runtime.status()[0]?.phase === 'Initialized', 120_000, 'initialization');
    expect(await primaryVersion(port)).toBe('1.0.0');
    // And the next revision is analysed as usual, against that primary.
    await second.runtime.apply(manifests(port, { version: '2.0.0' }));
    await until(() => second.runtime.status()[0]?.phase === 'Progressing', 60_000, 'the next revision');
  });
});

describe('what status says about the last decision', () => {
  it('a halt for lack of traffic says how to bring some (issue 13, item 8)', async () => {
    const state = await directory();
    const port = await findFreePort();
    const { runtime } = await start(state, manifests(port));
    await until(() => runtime.status()[0]?.phase === 'Initialized', 120_000, 'initialization');
    await runtime.apply(manifests(port, { version: '2.0.0' }));
    await until(() => runtime.status()[0]?.lastDecision?.action === 'halt', 120_000, 'a halt');
    const { lastDecision } = runtime.status()[0]!;
    expect(lastDecision?.message).toMatch(/no values found .* is not receiving traffic/);
    expect(lastDecision?.detail).toContain(`send traffic to http://127.0.0.1:${port}`);
    expect(lastDecision?.detail).toContain('rollout webhook of type load to vireo loadtester');
  });

  it('a failed check shows the measured value, the threshold and the sample size (item 3)', async () => {
    const state = await directory();
    const port = await findFreePort();
    const { runtime } = await start(state, manifests(port));
    await until(() => runtime.status()[0]?.phase === 'Initialized', 120_000, 'initialization');
    const load = new AbortController();
    cleanups.push(() => Promise.resolve(load.abort()));
    void (async () => {
      while (!load.signal.aborted) {
        await fetch(`http://127.0.0.1:${port}/`, { signal: load.signal }).then(
          (answer) => answer.arrayBuffer(),
          () => undefined,
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const broken = manifests(port, { version: '2.0.0' });
    const workload = broken.workloads[0]!;
    await runtime.apply({
      ...broken,
      workloads: [{ ...workload, spec: { ...workload.spec, env: { VERSION: '2.0.0', ERROR_RATE: '1' } } }],
    });
    let seen: string | undefined;
    await until(
      () => {
        const decision = runtime.status()[0]?.lastDecision;
        if (decision?.action === 'halt' && /success rate/.test(decision.message)) {
          seen = `${decision.message} (${decision.detail ?? ''})`;
        }
        return seen !== undefined;
      },
      120_000,
      'a failed success-rate check',
    );
    expect(seen).toMatch(
      /^Halt web\.test advancement success rate 0\.00% < 99% \(measured over [1-9]\d* canary requests? in the last \d+s\)$/,
    );
    expect(runtime.status()[0]).toMatchObject({
      canaryRevision: expect.stringMatching(/^[0-9a-f]{8}$/),
      primaryRevision: expect.stringMatching(/^[0-9a-f]{8}$/),
      problems: [],
    });
  });
});

describe('router: nginx with a program that exports no latency histogram (issue 13, item 6)', () => {
  it('warns once the primary serves, and the halt names the missing series although traffic flows', async () => {
    const state = await directory();
    const port = await findFreePort();
    const plainServer = (version: string): LocalManifests => {
      const base = manifests(port, { version });
      const workload = base.workloads[0]!;
      return {
        ...base,
        workloads: [
          {
            ...workload,
            spec: {
              ...workload.spec,
              args: [
                '-e',
                "require('node:http').createServer((q, a) => a.end('ok')).listen(process.env.PORT, '127.0.0.1')",
              ],
              router: 'nginx',
            },
          },
        ],
      };
    };
    const { runtime } = await start(state, plainServer('1.0.0'));
    await until(() => runtime.status()[0]?.phase === 'Initialized', 120_000, 'initialization');
    await until(() => (runtime.status()[0]?.warnings.length ?? 0) > 0, 30_000, 'the series warning');
    expect(runtime.status()[0]?.warnings[0]).toMatch(
      /has router: nginx, so the built-in checks request-success-rate read http_request_duration_seconds_count and http_request_duration_seconds_bucket from your program, but http:\/\/127\.0\.0\.1:\d+\/metrics has no http_request_duration_seconds_count or http_request_duration_seconds_bucket/,
    );

    const url = runtime.status()[0]!.url!;
    const load = new AbortController();
    cleanups.push(() => Promise.resolve(load.abort()));
    void (async () => {
      while (!load.signal.aborted) {
        await fetch(url, { signal: load.signal }).then(
          (answer) => answer.arrayBuffer(),
          () => undefined,
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await runtime.apply(plainServer('2.0.0'));
    await until(() => runtime.status()[0]?.lastDecision?.action === 'halt', 120_000, 'a halt');
    // Traffic did reach the canary (nginx's access log says so): the checks lacked the series, not traffic.
    await until(() => (runtime.status()[0]?.served.canary ?? 0) > 0, 30_000, 'canary traffic through nginx');
    expect(runtime.status()[0]?.lastDecision?.detail).toContain(
      'read the series http_request_duration_seconds_count and http_request_duration_seconds_bucket',
    );
    expect(runtime.status()[0]?.lastDecision?.detail).toContain('even when traffic flows');
  });
});
