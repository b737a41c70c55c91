/**
 * charts/vireo on a real kube-apiserver, the way seed 004 installs Flagger with only the chart name
 * changed: `helm upgrade -i flagger <chart> --namespace ingress-nginx --set prometheus.install=true
 * --set meshProvider=nginx`, then its `helm upgrade … --set msteams.url=… --set msteams.proxy.url=…`,
 * then `helm uninstall`. kwok runs no containers, so the controller runs out of the cluster
 * (bin/vireo.js) with the arguments of the installed Deployment, the environment of the installed
 * Secret and the token of the installed ServiceAccount: it completes a canary (so the chart's RBAC
 * is enough), sends the global Teams alert, and a real Prometheus scraping it answers Flagger's
 * documented queries on the flagger_* metrics (docs/dashboards.md).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient, type KubeObject } from '../../src/platforms/kubernetes/client.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { canary, podinfoDeployment } from '../support/canary-fixtures.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { startControllerProcess, type ControllerProcess } from '../support/controller-process.js';
import { helm, REPOSITORY, VIREO_CHART } from '../support/helm.js';
import {
  adminClient,
  adminKubeConfig,
  CLUSTER_ROLES,
  CRDS,
  ensureNamespace,
  eventually,
  SERVICE_ACCOUNTS,
} from '../support/kube.js';
import { kubeConfigWithToken } from '../support/kubeconfig.js';
import { startPrometheus, type TestPrometheus } from '../support/prometheus.js';
import { startRecordingServer, type RecordingServer } from '../support/recording-server.js';

const NAMESPACE = 'ingress-nginx';
const RELEASE = 'flagger';
const FULLNAME = 'flagger-vireo';
const seed004Teams =
  'https://officetestify633.webhook.office.com/webhookb2/63a11652-d1bd-4447-ae9d-927dee285a25@eb8e7f5a-975d-46b9-af52-d98412275d2b/IncomingWebhook/74ca1e25f2714b25a24cd4ac54d848f8/0db59b53-d85f-46d5-8595-28388336a0bd';

const CONFIG_MAPS = RESOURCES.configMaps;

let cluster: TestCluster;
let client: KubeClient;

const helmIn = (...args: string[]): Promise<string> =>
  helm([...args, '--kubeconfig', cluster.kubeconfigPath, '--namespace', NAMESPACE]);

type Deployment = KubeObject & { spec: any; status?: { availableReplicas?: number } };

async function available(name: string): Promise<Deployment> {
  return eventually(
    () => client.get<Deployment>(RESOURCES.deployments, NAMESPACE, name),
    (deployment) => deployment?.status?.availableReplicas === deployment?.spec.replicas,
    90_000,
    `Deployment ${name} available`,
  ) as Promise<Deployment>;
}

beforeAll(async () => {
  cluster = await startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) });
  client = await adminClient(cluster);
  // The namespace enforces the restricted Pod Security profile: the pods are only created if their
  // security contexts pass it.
  await client.create(RESOURCES.namespaces, {
    metadata: { name: NAMESPACE, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
  });
}, 180_000);

afterAll(async () => {
  await client?.close();
  await cluster?.stop();
}, 60_000);

describe('helm upgrade -i flagger charts/vireo (seed 004, chart name changed)', () => {
  it('installs the CRDs, the controller and the bundled Prometheus, whose pods pass the restricted profile', async () => {
    const output = await helmIn(
      'upgrade',
      '-i',
      RELEASE,
      VIREO_CHART,
      '--set',
      'prometheus.install=true',
      '--set',
      'meshProvider=nginx',
    );
    expect(output).toContain('STATUS: deployed');
    expect(output).toContain(`Vireo 0.1.0 is installed as ${FULLNAME} in ${NAMESPACE}`);
    for (const crd of ['canaries.flagger.app', 'metrictemplates.flagger.app', 'alertproviders.flagger.app'])
      expect(await client.get(CRDS, undefined, crd), crd).toBeDefined();
    const controller = await available(FULLNAME);
    expect(controller.spec.template.spec.containers[0].args).toEqual(
      expect.arrayContaining(['--mesh-provider=nginx', '--metrics-server=http://flagger-prometheus:9090']),
    );
    await available('flagger-prometheus');
    expect(await client.get(RESOURCES.services, NAMESPACE, 'flagger-prometheus')).toBeDefined();
    expect(await client.get(CONFIG_MAPS, NAMESPACE, `${FULLNAME}-dashboards`)).toBeDefined();
  });

  it("upgrades with seed 004's msteams.url and msteams.proxy.url: a Secret, not arguments, and a new pod", async () => {
    const before = await client.get<Deployment>(RESOURCES.deployments, NAMESPACE, FULLNAME);
    const output = await helmIn(
      'upgrade',
      '-i',
      RELEASE,
      VIREO_CHART,
      '--set',
      `msteams.url=${seed004Teams}`,
      '--set',
      'msteams.proxy.url=sarah.onthewifi.com',
    );
    expect(output).toContain('REVISION: 2');
    const secret = await client.get<KubeObject & { data: Record<string, string> }>(
      RESOURCES.secrets,
      NAMESPACE,
      `${FULLNAME}-notifiers`,
    );
    expect(Buffer.from(secret!.data['MSTEAMS_URL']!, 'base64').toString()).toBe(seed004Teams);
    expect(Buffer.from(secret!.data['MSTEAMS_PROXY_URL']!, 'base64').toString()).toBe(
      'http://sarah.onthewifi.com',
    );
    const after = await available(FULLNAME);
    expect(JSON.stringify(after.spec)).not.toContain('webhookb2');
    expect(after.spec.template.spec.containers[0].envFrom).toEqual([
      { secretRef: { name: `${FULLNAME}-notifiers` } },
    ]);
    expect(after.metadata.generation).toBeGreaterThan(before!.metadata.generation!);
    // Without --reuse-values an upgrade starts from the chart's defaults, as with Flagger's chart.
    expect(after.spec.template.spec.containers[0].args).not.toContain('--mesh-provider=nginx');
  });
});

describe("the controller with the chart's ServiceAccount, arguments and Secret", () => {
  let teams: RecordingServer;
  let prometheus: TestPrometheus | undefined;
  let controller: ControllerProcess | undefined;

  afterAll(async () => {
    await controller?.stop('SIGTERM');
    await prometheus?.stop();
    await teams?.close();
  });

  it('completes a canary with no forbidden request, alerts the Teams URL of the Secret, and feeds the flagger_* metrics', async () => {
    teams = await startRecordingServer(() => ({ status: 200, body: '1' }));
    // The Teams URL points at a recording server here; the proxy is dropped (it is not reachable).
    await helmIn(
      'upgrade',
      RELEASE,
      VIREO_CHART,
      '--reuse-values',
      '--set',
      `msteams.url=${teams.url}/webhookb2/test`,
      '--set',
      'msteams.proxy.url=',
    );
    const installed = await available(FULLNAME);
    const container = installed.spec.template.spec.containers[0];

    const secret = await client.get<KubeObject & { data: Record<string, string> }>(
      RESOURCES.secrets,
      NAMESPACE,
      container.envFrom[0].secretRef.name,
    );
    const environment = Object.fromEntries(
      Object.entries(secret!.data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString()]),
    );
    const token = await cluster.tokenFor(NAMESPACE, installed.spec.template.spec.serviceAccountName);
    const directory = mkdtempSync(join(tmpdir(), 'vireo-helm-'));
    const kubeconfigPath = join(directory, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeConfigWithToken(adminKubeConfig(cluster), token).exportConfig(), {
      mode: 0o600,
    });

    // The installed arguments, but on loopback and a free port (the process runs on this machine).
    const installedArgs = (container.args as string[]).filter(
      (arg) => arg !== 'controller' && !arg.startsWith('--port=') && !arg.startsWith('--log-level='),
    );
    controller = await startControllerProcess(kubeconfigPath, installedArgs, environment);
    prometheus = await startPrometheus({ targets: [`127.0.0.1:${controller.port}`] });

    // A canary with one metric check (a MetricTemplate on that Prometheus: 100 while the
    // controller is scraped), so that the check's value and threshold series exist.
    const namespace = 'apps';
    await ensureNamespace(client, namespace);
    await client.apply(RESOURCES.metricTemplates, {
      metadata: { name: 'controller-scraped', namespace },
      spec: { provider: { type: 'prometheus', address: prometheus.url }, query: 'sum(up) * 100' },
    });
    await client.create(RESOURCES.deployments, podinfoDeployment(namespace));
    await client.apply(
      RESOURCES.canaries,
      canary({
        namespace,
        provider: 'kubernetes',
        analysis: {
          interval: '2s',
          threshold: 2,
          iterations: 2,
          metrics: [
            {
              name: 'controller-scraped',
              templateRef: { name: 'controller-scraped' },
              thresholdRange: { min: 99 },
              interval: '1m',
            },
          ],
        },
      }),
    );

    await eventually(
      () =>
        client.get<KubeObject & { status?: { phase?: string } }>(RESOURCES.canaries, namespace, 'podinfo'),
      (current) => current?.status?.phase === 'Initialized',
      60_000,
      'the canary initialized',
    ).catch((error: unknown) => {
      console.error(controller!.tail(60));
      throw error;
    });
    await client.mergePatch(RESOURCES.deployments, namespace, 'podinfo', {
      spec: { template: { metadata: { annotations: { 'example.com/revision': '2' } } } },
    });
    await eventually(
      () =>
        client.get<KubeObject & { status?: { phase?: string } }>(RESOURCES.canaries, namespace, 'podinfo'),
      (current) => current?.status?.phase === 'Succeeded',
      120_000,
      'the canary promoted',
    ).catch((error: unknown) => {
      console.error(controller!.tail(60));
      throw error;
    });
    const forbidden = controller.logs.filter((line) => /forbidden/i.test(JSON.stringify(line)));
    expect(forbidden).toEqual([]);
    await eventually(
      () => Promise.resolve(teams.requests.map((request) => request.body).join('\n')),
      (bodies) => bodies.includes('podinfo'),
      60_000,
      'the global Teams notifier called',
    );
    expect(teams.requests[0]!.path).toBe('/webhookb2/test');

    // Flagger's documented queries on its own metrics, through a real Prometheus scraping /metrics.
    await prometheus.waitForScrapes(2, 60_000);
    const queries: [string, (value: number) => boolean][] = [
      ['flagger_info{mesh_provider="istio"}', (value) => value === 1],
      [`flagger_canary_total{namespace="${namespace}"}`, (value) => value === 1],
      [`flagger_canary_status{name="podinfo",namespace="${namespace}"}`, (value) => value === 1],
      [
        `flagger_canary_weight{workload="podinfo-primary",namespace="${namespace}"}`,
        (value) => value === 100,
      ],
      [`flagger_canary_weight{workload="podinfo",namespace="${namespace}"}`, (value) => value === 0],
      [
        `sum(flagger_canary_duration_seconds_count{name="podinfo",namespace="${namespace}"})`,
        (value) => value > 0,
      ],
      [
        `histogram_quantile(0.99, sum(rate(flagger_canary_duration_seconds_bucket{namespace="${namespace}"}[5m])) by (le))`,
        (value) => Number.isFinite(value) && value >= 0,
      ],
      [`sum(flagger_canary_successes_total{name="podinfo",namespace="${namespace}"})`, (value) => value >= 1],
    ];
    for (const [query, accept] of queries) {
      const answer = await eventually(
        async () => {
          const data = await prometheus!.query(query);
          const result = data.result as { value: [number, string] }[];
          return result.length === 0 ? undefined : Number(result[0]!.value[1]);
        },
        (value) => value !== undefined && accept(value),
        60_000,
        `${query} answered`,
      );
      expect(answer, query).toBeDefined();
    }

    // Every query of Vireo's dashboard, with its variables set as Grafana would for this canary.
    const dashboard = JSON.parse(readFileSync(join(REPOSITORY, 'dashboards', 'vireo.json'), 'utf8')) as {
      panels: { targets?: { expr?: string }[] }[];
    };
    const dashboardQueries = dashboard.panels
      .flatMap((panel) => panel.targets ?? [])
      .flatMap((target) => (target.expr === undefined ? [] : [target.expr]))
      .map((expr) =>
        expr
          .replaceAll('$namespace', namespace)
          .replaceAll('$canary', 'podinfo')
          .replaceAll('$__rate_interval', '1m'),
      );
    expect(dashboardQueries.length).toBeGreaterThan(15);
    // Series that only exist once their event happened: no rollback, no dropped alert and no
    // work-queue retry here.
    const eventOnly = [
      'flagger_canary_failures_total',
      'vireo_alerts_dropped_total',
      'vireo_workqueue_retries_total',
    ];
    const empty: string[] = [];
    for (const expr of dashboardQueries) {
      const data = await eventually(
        () => prometheus!.query(expr),
        (answer) => (answer.result as unknown[]).length > 0 || eventOnly.some((name) => expr.includes(name)),
        30_000,
        `${expr} answered`,
      ).catch(() => undefined);
      if (data === undefined || (data.result as unknown[]).length === 0) empty.push(expr);
    }
    expect(empty.filter((expr) => !eventOnly.some((name) => expr.includes(name)))).toEqual([]);
    const threshold = await prometheus.query(
      `vireo_canary_metric_threshold{namespace="${namespace}",name="podinfo",metric="controller-scraped",bound="min"}`,
    );
    expect((threshold.result as { value: [number, string] }[])[0]?.value[1]).toBe('99');
  });
});

describe('helm uninstall', () => {
  it("removes the release's objects and keeps the CRDs and every Canary", async () => {
    const output = await helmIn('uninstall', RELEASE);
    expect(output).toContain(`release "${RELEASE}" uninstalled`);
    await eventually(
      () => client.get(RESOURCES.deployments, NAMESPACE, FULLNAME),
      (deployment) => deployment === undefined,
      30_000,
      'the controller Deployment removed',
    );
    expect(await client.get(SERVICE_ACCOUNTS, NAMESPACE, FULLNAME)).toBeUndefined();
    expect(await client.get(CLUSTER_ROLES, undefined, FULLNAME)).toBeUndefined();
    expect(await client.get(RESOURCES.deployments, NAMESPACE, 'flagger-prometheus')).toBeUndefined();
    expect(await client.get(CRDS, undefined, 'canaries.flagger.app')).toBeDefined();
    expect(await client.get(RESOURCES.canaries, 'apps', 'podinfo')).toBeDefined();
  });
});

describe("the README's Install command", () => {
  it('installs Vireo in vireo-system, taken literally from README.md', async () => {
    const readme = readFileSync(join(REPOSITORY, 'README.md'), 'utf8');
    const command = /^helm upgrade -i vireo charts\/vireo .*$/m.exec(readme)?.[0];
    expect(command).toBe(
      'helm upgrade -i vireo charts/vireo --namespace vireo-system --create-namespace --set meshProvider=nginx',
    );
    const args = command!.split(' ').slice(1);
    const output = await helm([
      ...args.map((arg) => (arg === 'charts/vireo' ? VIREO_CHART : arg)),
      '--kubeconfig',
      cluster.kubeconfigPath,
    ]);
    expect(output).toContain('STATUS: deployed');
    const controller = await eventually(
      () => client.get<Deployment>(RESOURCES.deployments, 'vireo-system', 'vireo'),
      (deployment) => deployment?.status?.availableReplicas === 1,
      90_000,
      'the vireo Deployment available',
    );
    expect(controller!.spec.template.spec.containers[0].args).toContain('--mesh-provider=nginx');
  });
});
