/**
 * The operations CLI against the real test control plane with the controller binary: a canary
 * whose success rate (95%, from the mesh exporter) is under its range halts and rolls back; then
 * `vireo explain` and `vireo status` show the measured value, the range and the failed-check
 * count from the ConfigMap the controller keeps (docs/adr/0032-operations-cli-and-decision-records.md),
 * the history survives a controller restart, `vireo get canaries` prints what kubectl prints, and a
 * user whose RBAC only allows reading gets status and explain, while one who may not read the
 * decisions is told which permission is missing.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { decisionsConfigMapName } from '../../src/platforms/kubernetes/decision-store.js';
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
import { startMeshExporter, type MeshExporter } from '../support/mesh-exporter.js';
import { startPrometheus, type TestPrometheus } from '../support/prometheus.js';

const repository = join(import.meta.dirname, '..', '..');
const kubectl = join(repository, '.cache', 'kube', 'bin', 'kubectl');
// The mesh exporter serves nginx series for ingress test/podinfo with a 95% success rate.
const NAMESPACE = 'test';

type Canary = KubeObject & { status?: { phase?: string } };

let cluster: TestCluster;
let client: KubeClient;
let controller: ControllerProcess;
let exporter: MeshExporter;
let prometheus: TestPrometheus;
let kubeconfig: string;
let directory: string;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], config = kubeconfig): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      [...args],
      { cwd: repository, env: { ...process.env, KUBECONFIG: config }, timeout: 120_000 },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1,
          stdout,
          stderr,
        }),
    );
  });
}

const vireo = (args: readonly string[], config = kubeconfig): Promise<Run> =>
  run(process.execPath, [join(repository, 'bin', 'vireo.js'), ...args], config);

const startController = () =>
  startControllerProcess(cluster.kubeconfigPath, ['--metrics-server', prometheus.url]);

beforeAll(async () => {
  [cluster, exporter] = await Promise.all([
    startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) }),
    startMeshExporter(),
  ]);
  prometheus = await startPrometheus({ targets: [exporter.target] });
  client = await adminClient(cluster);
  kubeconfig = cluster.kubeconfigPath;
  directory = await mkdtemp(join(tmpdir(), 'vireo-cli-ops-'));
  await installCrds(client);
  await prometheus.waitForScrapes(2);
  controller = await startController();
}, 240_000);

afterAll(async () => {
  if (controller !== undefined) {
    const code = await controller.stop('SIGTERM');
    if (code !== 0) console.error(`controller exited ${code}:\n${controller.tail()}`);
  }
  await client?.close();
  await Promise.allSettled([prometheus?.stop(), exporter?.close()]);
  await cluster?.stop();
}, 60_000);

async function waitForPhase(phases: string[], timeoutMs = 120_000): Promise<Canary> {
  try {
    return (await eventually(
      () => client.get<Canary>(RESOURCES.canaries, NAMESPACE, 'podinfo'),
      (current) => phases.includes(current?.status?.phase ?? ''),
      timeoutMs,
      `canary podinfo.${NAMESPACE} in ${phases.join('|')}`,
    ))!;
  } catch (error) {
    console.error(controller.tail(80));
    throw error;
  }
}

async function setImage(image: string): Promise<void> {
  await client.mergePatch(RESOURCES.deployments, NAMESPACE, 'podinfo', {
    spec: { template: { spec: { containers: [{ name: 'podinfo', image }] } } },
  });
}

/** A kubeconfig for ServiceAccount `name` in the test namespace, allowed `rules` there. */
const userKubeconfig = (name: string, rules: object[]): Promise<string> =>
  restrictedUserKubeconfig(cluster, client, NAMESPACE, name, rules, directory);

describe('vireo get, status and explain on a real cluster', () => {
  it('given a canary that halted on its success rate and rolled back, then explain and status show the measured value, its range and the failed checks against the threshold, from a ConfigMap owned by the Canary', async () => {
    await ensureNamespace(client, NAMESPACE);
    await client.create(RESOURCES.deployments, podinfoDeployment(NAMESPACE));
    await client.create(RESOURCES.ingresses, podinfoIngress(NAMESPACE));
    await client.apply(
      RESOURCES.canaries,
      canary({
        namespace: NAMESPACE,
        provider: 'nginx',
        analysis: {
          interval: '2s',
          threshold: 2,
          stepWeight: 20,
          maxWeight: 60,
          metrics: [{ name: 'request-success-rate', interval: '1m', thresholdRange: { min: 99 } }],
        },
      }),
    );
    await waitForPhase(['Initialized']);
    await setImage('ghcr.io/stefanprodan/podinfo:6.0.1');
    const failed = await waitForPhase(['Failed', 'Succeeded']);
    expect(failed.status?.phase).toBe('Failed');

    const configMap = await eventually(
      () =>
        client.get<KubeObject & { data?: Record<string, string> }>(
          RESOURCES.configMaps,
          NAMESPACE,
          decisionsConfigMapName('podinfo'),
        ),
      (found) => (found?.data?.['decisions.json'] ?? '').includes('"rollback"'),
      30_000,
      'the rollback in the decisions ConfigMap',
    );
    expect(configMap?.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', name: 'podinfo', uid: failed.metadata.uid }),
    ]);

    const explain = await vireo(['explain', 'podinfo', '-n', NAMESPACE]);
    expect(explain.stderr).toBe('');
    expect(explain.code).toBe(0);
    expect(explain.stdout).toMatch(/ halt: Halt podinfo\.test advancement success rate 95\.00% < 99%/);
    expect(explain.stdout).toMatch(
      /request-success-rate 95(\.00)?% < 99 \(min 99\) failed \[requests [1-9]\d*\]/,
    );
    expect(explain.stdout).toMatch(/ rollback: Canary failed! Scaling down podinfo\.test\n/);
    expect(explain.stdout).toMatch(/2 of 2 failed checks/);

    const json = await vireo(['explain', 'podinfo', '-n', NAMESPACE, '-o', 'json']);
    const decisions = JSON.parse(json.stdout) as { action: string; checks?: { value?: number }[] }[];
    expect(decisions.find((decision) => decision.action === 'halt')?.checks?.[0]?.value).toBeCloseTo(95, 0);

    const status = await vireo(['status', 'podinfo', '-n', NAMESPACE]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^Phase: +Failed for /m);
    expect(status.stdout).toMatch(/^Failed checks: +\d of 2 /m);
    expect(status.stdout).toMatch(/^Primary: +ghcr\.io\/stefanprodan\/podinfo:6\.0\.0$/m);
    expect(status.stdout).toMatch(/^Canary: +ghcr\.io\/stefanprodan\/podinfo:6\.0\.1$/m);
    expect(status.stdout).toMatch(
      /request-success-rate 95(\.00)?% < 99 \(min 99\) failed \[requests [1-9]\d*\]/,
    );
    expect(status.stdout).toMatch(/^Last decision: .* rollback: /m);
  });

  it('given the history, when the controller restarts and the canary runs again, then the history continues from what the ConfigMap kept', async () => {
    const before = JSON.parse(
      (await vireo(['explain', 'podinfo', '-n', NAMESPACE, '-o', 'json'])).stdout,
    ) as {
      time: string;
      action: string;
    }[];
    expect(before.length).toBeGreaterThan(2);
    expect(await controller.stop('SIGTERM')).toBe(0);
    controller = await startController();
    await setImage('ghcr.io/stefanprodan/podinfo:6.0.2');
    const after = await eventually(
      async () =>
        JSON.parse((await vireo(['explain', 'podinfo', '-n', NAMESPACE, '-o', 'json'])).stdout) as {
          time: string;
          action: string;
        }[],
      (history) => history.filter((decision) => decision.action === 'rollback').length >= 2,
      60_000,
      'a second rollback in the kept history',
    );
    // The old records are still there, first, and the new ones follow them.
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.length).toBeGreaterThan(before.length);
  });

  it('vireo get canaries prints what kubectl get canaries prints, with -o wide, -A, -o name, -o json and -l', async () => {
    for (const args of [
      ['-n', NAMESPACE],
      ['-n', NAMESPACE, '-o', 'wide'],
      ['-A'],
      ['-A', '-o', 'wide'],
      ['-n', NAMESPACE, '-o', 'name'],
      ['-n', NAMESPACE, '-o', 'json'],
      ['-n', NAMESPACE, '-l', 'nothing=here'],
    ]) {
      const [ours, theirs] = await Promise.all([
        vireo(['get', 'canaries', ...args]),
        run(kubectl, ['get', 'canaries', ...args]),
      ]);
      expect({ args, stdout: ours.stdout, stderr: ours.stderr.trim() }).toEqual({
        args,
        stdout: theirs.stdout,
        stderr: theirs.stderr.trim(),
      });
    }
  });

  it('a user allowed only to read canaries, their decisions and deployments gets status and explain; one who may not read the decisions is told the missing permission', async () => {
    const reader = await userKubeconfig('reader', [
      { apiGroups: ['flagger.app'], resources: ['canaries'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get'] },
    ]);
    const status = await vireo(['status', 'podinfo', '-n', NAMESPACE], reader);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^Phase: +Failed/m);
    const explain = await vireo(['explain', 'podinfo', '-n', NAMESPACE], reader);
    expect(explain.code).toBe(0);
    expect(explain.stdout).toMatch(/ rollback: /);

    const canariesOnly = await userKubeconfig('canaries-only', [
      { apiGroups: ['flagger.app'], resources: ['canaries'], verbs: ['get', 'list'] },
    ]);
    const refused = await vireo(['explain', 'podinfo', '-n', NAMESPACE], canariesOnly);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /cannot get resource "configmaps" in API group "" in the namespace "test".*\[E_KUBE_FORBIDDEN\]/,
    );
  });
});
