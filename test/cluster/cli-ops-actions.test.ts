/**
 * `vireo pause|resume|abort|retry|promote` against the real test control plane with the controller
 * binary (docs/cli-operations.md "Acting on a canary"). The canary's gates are a loopback webhook
 * the test opens and closes, so every phase is held for as long as the test needs and nothing
 * races the machine's speed; "several intervals" are counted in the controller's own ticks
 * (vireo_canary_ticks_total). A user allowed only to read is refused each action with the
 * missing permission named.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { canary, podinfoDeployment, podinfoIngress } from '../support/canary-fixtures.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { startControllerProcess, type ControllerProcess } from '../support/controller-process.js';
import {
  adminClient,
  ensureNamespace,
  eventually,
  installCrds,
  restrictedUserKubeconfig,
} from '../support/kube.js';
import { startRecordingServer, type RecordingServer } from '../support/recording-server.js';

const repository = join(import.meta.dirname, '..', '..');
const NAMESPACE = 'ops';

type CanaryObject = KubeObject & {
  spec: { suspend?: boolean };
  status?: { phase?: string; canaryWeight?: number; failedChecks?: number };
};

let cluster: TestCluster;
let client: KubeClient;
let controller: ControllerProcess;
let hooks: RecordingServer;
let slack: RecordingServer;
let kubeconfig: string;
let directory: string;
/** The gates' answers: the test opens and closes them. */
const gates = { traffic: false, promotion: false };

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function vireo(args: readonly string[], config = kubeconfig): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repository, 'bin', 'vireo.js'), ...args],
      { cwd: repository, env: { ...process.env, KUBECONFIG: config }, timeout: 300_000 },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1,
          stdout,
          stderr,
        }),
    );
  });
}

beforeAll(async () => {
  [cluster, hooks, slack] = await Promise.all([
    startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) }),
    startRecordingServer((request) => {
      const open = request.path.startsWith('/traffic') ? gates.traffic : gates.promotion;
      return open ? { status: 200, body: 'open' } : { status: 403, body: 'closed' };
    }),
    startRecordingServer(),
  ]);
  client = await adminClient(cluster);
  kubeconfig = cluster.kubeconfigPath;
  directory = await mkdtemp(join(tmpdir(), 'vireo-cli-actions-'));
  await installCrds(client);
  controller = await startControllerProcess(cluster.kubeconfigPath);
}, 240_000);

afterAll(async () => {
  if (controller !== undefined) {
    const code = await controller.stop('SIGTERM');
    if (code !== 0) console.error(`controller exited ${code}:\n${controller.tail()}`);
  }
  await client?.close();
  await Promise.allSettled([hooks?.close(), slack?.close()]);
  await cluster?.stop();
}, 60_000);

const current = async (): Promise<CanaryObject> =>
  (await client.get<CanaryObject>(RESOURCES.canaries, NAMESPACE, 'podinfo'))!;

async function until(
  what: string,
  done: (canary: CanaryObject) => boolean,
  timeoutMs = 120_000,
): Promise<CanaryObject> {
  try {
    return await eventually(current, (found) => done(found), timeoutMs, what);
  } catch (error) {
    console.error(controller.tail(80));
    throw error;
  }
}

async function ticks(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${controller.port}/metrics`)).text();
  return Number(/^vireo_canary_ticks_total (\d+)/m.exec(text)?.[1] ?? 'NaN');
}

/** Runs an action as the admin (confirmed with --yes) and waits for the controller's answer. */
async function act(action: string, reason: string): Promise<CanaryObject> {
  const run = await vireo([action, 'podinfo', '-n', NAMESPACE, '--reason', reason, '--yes']);
  expect(run.code, run.stderr).toBe(0);
  const id = /\(id ([0-9a-f-]+)\)/.exec(run.stdout)?.[1];
  expect(id, run.stdout).toBeDefined();
  return until(
    `the answer to ${action}`,
    (found) => found.metadata.annotations?.['vireo.dev/request-done'] === id,
  );
}

const userKubeconfig = (name: string, rules: object[]): Promise<string> =>
  restrictedUserKubeconfig(cluster, client, NAMESPACE, name, rules, directory);

describe('vireo pause, resume, abort, retry and promote on a real cluster', () => {
  it('each action is honoured by the controller on its next tick and kept in the history with who and why', async () => {
    await ensureNamespace(client, NAMESPACE);
    await client.create(RESOURCES.deployments, podinfoDeployment(NAMESPACE));
    await client.create(RESOURCES.ingresses, podinfoIngress(NAMESPACE));
    await client.apply(RESOURCES.alertProviders, {
      metadata: { name: 'on-call', namespace: NAMESPACE },
      spec: { type: 'slack', channel: 'deploys', address: slack.url },
    });
    const fixture = canary({
      namespace: NAMESPACE,
      provider: 'nginx',
      analysis: {
        interval: '2s',
        threshold: 2,
        stepWeight: 10,
        maxWeight: 50,
        webhooks: [
          { name: 'traffic', type: 'confirm-traffic-increase', url: `${hooks.url}/traffic` },
          { name: 'promotion', type: 'confirm-promotion', url: `${hooks.url}/promotion` },
        ],
        alerts: [{ name: 'on-call', severity: 'info', providerRef: { name: 'on-call' } }],
      },
    });
    await client.apply(RESOURCES.canaries, fixture);
    await until('Initialized', (found) => found.status?.phase === 'Initialized');
    await client.mergePatch(RESOURCES.deployments, NAMESPACE, 'podinfo', {
      spec: {
        template: {
          spec: { containers: [{ name: 'podinfo', image: 'ghcr.io/stefanprodan/podinfo:6.0.1' }] },
        },
      },
    });

    // Into the analysis, then the traffic gate closes: the weight stays where it is.
    gates.traffic = true;
    await until('weight 10 or more', (found) => (found.status?.canaryWeight ?? 0) >= 10);
    gates.traffic = false;
    const asked = hooks.requests.length;
    await eventually(
      () => Promise.resolve(hooks.requests.slice(asked).filter((r) => r.path.startsWith('/traffic')).length),
      (count) => count >= 2,
      60_000,
      'the closed gate asked twice',
    );
    const heldWeight = (await current()).status?.canaryWeight ?? 0;

    // pause: answered; then, over three more ticks, with the gate open, nothing moves and no gate is asked.
    const paused = await act('pause', 'holding for the load test');
    expect(paused.spec.suspend).toBe(true);
    gates.traffic = true;
    const ticksAtPause = await ticks();
    const requestsAtPause = hooks.requests.length;
    await eventually(ticks, (count) => count >= ticksAtPause + 3, 60_000, 'three ticks while paused');
    expect((await current()).status).toMatchObject({
      phase: 'Progressing',
      canaryWeight: heldWeight,
      failedChecks: 0,
    });
    expect(hooks.requests.length).toBe(requestsAtPause);

    // resume: the analysis goes on, up to the closed promotion gate.
    const resumed = await act('resume', 'load test done');
    expect(resumed.spec.suspend).toBe(false);
    await until('WaitingPromotion', (found) => found.status?.phase === 'WaitingPromotion');

    // abort: the tick that answers it rolls back, with the rollback alert.
    const aborted = await act('abort', 'latency is wrong');
    expect(aborted.status).toMatchObject({ phase: 'Failed', canaryWeight: 0 });
    await eventually(
      () => Promise.resolve(slack.requests.map((request) => request.body)),
      (bodies) => bodies.some((body) => body.includes('Rolling back: abort requested by')),
      60_000,
      'the rollback alert',
    );

    // retry: the failed revision is analysed again, without a new spec, up to the promotion gate.
    await act('retry', 'it was the load balancer');
    await until('WaitingPromotion again', (found) => found.status?.phase === 'WaitingPromotion');

    // promote --wait: completes although the promotion gate stays closed.
    const promote = await vireo([
      'promote',
      'podinfo',
      '-n',
      NAMESPACE,
      '--reason',
      'ship it',
      '--yes',
      '--wait',
      '--timeout',
      '3m',
    ]);
    expect(promote.code, promote.stderr).toBe(0);
    expect(promote.stdout).toMatch(/answered: Promoting podinfo\.ops without further checks/);
    expect(promote.stdout).toMatch(/promote: Succeeded\n$/);
    expect(gates.promotion).toBe(false);

    const history = await eventually(
      async () =>
        JSON.parse((await vireo(['explain', 'podinfo', '-n', NAMESPACE, '-o', 'json'])).stdout || '[]') as {
          action: string;
          request?: { action: string; reason: string; by: string; honoured: boolean };
        }[],
      (decisions) => decisions.some((decision) => decision.action === 'skip-analysis'),
      60_000,
      'the promotion in the kept history',
    );
    const requests = history.filter((decision) => decision.action === 'request');
    expect(
      requests.map((decision) => [
        decision.request?.action,
        decision.request?.reason,
        decision.request?.honoured,
      ]),
    ).toEqual([
      ['pause', 'holding for the load test', true],
      ['resume', 'load test done', true],
      ['abort', 'latency is wrong', true],
      ['retry', 'it was the load balancer', true],
      ['promote', 'ship it', true],
    ]);
    for (const decision of requests) expect(decision.request?.by).toMatch(/\S/);
    const after = (action: string) =>
      history[history.findIndex((d) => d.request?.action === action) + 1]?.action;
    expect(after('abort')).toBe('rollback');
    expect(after('retry')).toBe('start');
    expect(after('promote')).toBe('skip-analysis');
    const timeline = await vireo(['explain', 'podinfo', '-n', NAMESPACE]);
    expect(timeline.stdout).toMatch(/abort requested by .+: latency is wrong/);
  });

  it('a user allowed only to get and list reads status and explain, and is refused every action with the missing permission named', async () => {
    const reader = await userKubeconfig('reader', [
      { apiGroups: ['flagger.app'], resources: ['canaries'], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] },
    ]);
    const status = await vireo(['status', 'podinfo', '-n', NAMESPACE], reader);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^Phase: +Succeeded/m);
    const explain = await vireo(['explain', 'podinfo', '-n', NAMESPACE], reader);
    expect(explain.code, explain.stderr).toBe(0);
    expect(explain.stdout).toMatch(/promote requested by .+: ship it/);

    const before = (await current()).metadata.annotations?.['vireo.dev/request'];
    for (const action of ['promote', 'abort', 'pause', 'resume', 'retry']) {
      const refused = await vireo([action, 'podinfo', '-n', NAMESPACE, '--reason', 'try', '--yes'], reader);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /may not patch canaries\.flagger\.app in namespace ops: ask your cluster admin for the `patch` verb .*\[E_ACTION_FORBIDDEN\]/,
      );
    }
    expect((await current()).metadata.annotations?.['vireo.dev/request']).toBe(before);
  });
});
