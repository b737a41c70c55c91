/**
 * charts/vireo without a cluster: `helm lint`, and `helm template` for every value that changes
 * what is rendered, read back as objects. The values are Flagger's chart's (docs/helm.md), so the
 * cases are the commands Flagger users run, seed 004's first.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import {
  controllerContainer,
  find,
  helm,
  HELM3,
  HelmError,
  REPOSITORY,
  template,
  VIREO_CHART,
  type RenderedObject,
} from '../support/helm.js';

const packageVersion = (
  JSON.parse(readFileSync(join(REPOSITORY, 'package.json'), 'utf8')) as { version: string }
).version;
const args = (objects: RenderedObject[]): string[] => controllerContainer(objects).args as string[];
const deployment = (objects: RenderedObject[]): any =>
  objects.find(
    (object) => object.kind === 'Deployment' && object.spec.template.spec.containers[0].name === 'vireo',
  );
const seed004Teams =
  'https://officetestify633.webhook.office.com/webhookb2/63a11652-d1bd-4447-ae9d-927dee285a25@eb8e7f5a-975d-46b9-af52-d98412275d2b/IncomingWebhook/74ca1e25f2714b25a24cd4ac54d848f8/0db59b53-d85f-46d5-8595-28388336a0bd';
const secretData = (secret: RenderedObject): Record<string, string> =>
  Object.fromEntries(
    Object.entries(secret['data'] as Record<string, string>).map(([key, value]) => [
      key,
      Buffer.from(value, 'base64').toString('utf8'),
    ]),
  );

describe('charts/vireo metadata', () => {
  it('carries the package version as chart version, appVersion and image tag, and the image kustomize names', async () => {
    const chart = parse(readFileSync(join(VIREO_CHART, 'Chart.yaml'), 'utf8')) as Record<string, string>;
    expect(chart['version']).toBe(packageVersion);
    expect(chart['appVersion']).toBe(packageVersion);
    const kustomizeImage = /image:\s*(\S+)/.exec(
      readFileSync(join(REPOSITORY, 'kustomize', 'base', 'deployment.yaml'), 'utf8'),
    )![1]!;
    expect(controllerContainer(await template(VIREO_CHART)).image).toBe(
      kustomizeImage.replace(/:.*$/, `:${packageVersion}`),
    );
  });

  it('ships the repository CRDs unchanged in crds/', () => {
    const shipped = readdirSync(join(VIREO_CHART, 'crds')).sort();
    const repository = readdirSync(join(REPOSITORY, 'crds'))
      .filter((name) => name.endsWith('.flagger.app.yaml'))
      .sort();
    expect(shipped).toEqual(repository);
    for (const file of shipped)
      expect(readFileSync(join(VIREO_CHART, 'crds', file), 'utf8'), file).toBe(
        readFileSync(join(REPOSITORY, 'crds', file), 'utf8'),
      );
  });

  it('passes helm lint --strict, with the defaults and with seed 004 values', async () => {
    await helm(['lint', '--strict', VIREO_CHART]);
    await helm([
      'lint',
      '--strict',
      VIREO_CHART,
      '--set',
      'meshProvider=nginx',
      '--set',
      'prometheus.install=true',
      '--set',
      `msteams.url=${seed004Teams}`,
      '--set',
      'msteams.proxy.url=sarah.onthewifi.com',
    ]);
  });
});

describe('charts/vireo defaults', () => {
  it('renders the controller with one replica, Recreate, the ServiceAccount, least-privilege RBAC and a restricted-profile pod', async () => {
    const objects = await template(VIREO_CHART);
    expect(objects.map((object) => `${object.kind}/${object.metadata.name}`).sort()).toEqual(
      [
        'ClusterRole/vireo',
        'ClusterRoleBinding/vireo',
        'ConfigMap/vireo-dashboards',
        'Deployment/vireo',
        'Role/vireo-leader-election',
        'RoleBinding/vireo-leader-election',
        'ServiceAccount/vireo',
      ].sort(),
    );
    const controller = deployment(objects);
    expect(controller.spec.replicas).toBe(1);
    expect(controller.spec.strategy).toEqual({ type: 'Recreate' });
    expect(controller.spec.template.spec.serviceAccountName).toBe('vireo');
    expect(args(objects)).toEqual([
      'controller',
      '--log-level=info',
      '--port=8080',
      '--metrics-server=http://prometheus:9090',
    ]);
    expect(controllerContainer(objects).securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(controller.spec.template.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '8080',
    });
    expect(controllerContainer(objects).env).toBeUndefined();
    expect(objects.some((object) => object.kind === 'Secret')).toBe(false);
  });

  it("grants the same ClusterRole rules as kustomize/base, bound to the release's ServiceAccount", async () => {
    const objects = await template(VIREO_CHART, [], 'vireo', 'ops');
    const kustomizeRole = parseAllDocuments(
      readFileSync(join(REPOSITORY, 'kustomize', 'base', 'rbac.yaml'), 'utf8'),
    )
      .map((document) => document.toJS() as RenderedObject)
      .find((object) => object.kind === 'ClusterRole')!;
    expect(find(objects, 'ClusterRole')['rules']).toEqual(kustomizeRole['rules']);
    expect(find(objects, 'ClusterRoleBinding')['subjects']).toEqual([
      { kind: 'ServiceAccount', name: 'vireo', namespace: 'ops' },
    ]);
    expect(find(objects, 'Role').metadata.namespace).toBe('ops');
  });
});

describe("Flagger's values", () => {
  it('seed 004: meshProvider=nginx and prometheus.install=true give the nginx router and the bundled <release>-prometheus, as Flagger', async () => {
    const objects = await template(
      VIREO_CHART,
      ['--set', 'prometheus.install=true', '--set', 'meshProvider=nginx'],
      'flagger',
      'ingress-nginx',
    );
    expect(args(objects)).toContain('--mesh-provider=nginx');
    expect(args(objects)).toContain('--metrics-server=http://flagger-prometheus:9090');
    expect(deployment(objects).metadata.name).toBe('flagger-vireo');
    const prometheus = find(objects, 'Deployment', 'flagger-prometheus');
    expect(prometheus.spec.template.spec.containers[0].args).toContain('--storage.tsdb.retention.time=2h');
    expect(find(objects, 'Service', 'flagger-prometheus').spec.ports[0].port).toBe(9090);
    expect(find(objects, 'ServiceAccount', 'flagger-prometheus')).toBeDefined();
    const rules = find(objects, 'ClusterRole', 'flagger-prometheus-ingress-nginx')['rules'] as {
      resources: string[];
      verbs: string[];
    }[];
    // Read-only, and the kubelets' metrics without nodes/proxy (which reaches every kubelet endpoint).
    expect(rules.flatMap((rule) => rule.verbs).sort()).toEqual(['get', 'list', 'watch']);
    expect(rules.flatMap((rule) => rule.resources)).toContain('nodes/metrics');
    expect(rules.flatMap((rule) => rule.resources)).not.toContain('nodes/proxy');
  });

  it("the bundled Prometheus's configuration passes promtool check config", async () => {
    const objects = await template(
      VIREO_CHART,
      ['--set', 'prometheus.install=true'],
      'flagger',
      'ingress-nginx',
    );
    const config = find(objects, 'ConfigMap', 'flagger-prometheus')['data']['prometheus.yml'] as string;
    const directory = mkdtempSync(join(tmpdir(), 'vireo-prometheus-config-'));
    // The pod's ServiceAccount files, which promtool wants to exist.
    writeFileSync(join(directory, 'ca.crt'), '');
    writeFileSync(join(directory, 'token'), 'token');
    const parsed = parse(config.replaceAll('/var/run/secrets/kubernetes.io/serviceaccount', directory)) as {
      scrape_configs: Record<string, unknown>[];
    };
    expect(parsed.scrape_configs.map((job) => job['job_name'])).toEqual([
      'kubernetes-pods',
      'kubernetes-cadvisor',
    ]);
    for (const job of parsed.scrape_configs)
      expect(job['kubernetes_sd_configs']).toEqual([expect.any(Object)]);
    // Debian's Prometheus is built without Kubernetes service discovery, so promtool is shown the
    // same jobs with a static target in its place; everything else (relabelling, TLS, auth) is checked.
    const checkable = {
      ...parsed,
      scrape_configs: parsed.scrape_configs.map(({ kubernetes_sd_configs: _discovery, ...job }) => ({
        ...job,
        static_configs: [{ targets: ['127.0.0.1:9'] }],
      })),
    };
    const file = join(directory, 'prometheus.yml');
    writeFileSync(file, stringify(checkable));
    const { stdout } = await promisify(execFile)('promtool', ['check', 'config', file]);
    expect(stdout).toContain('SUCCESS');
  });

  it('seed 004: msteams.url and msteams.proxy.url go into a Secret read as environment, never into the arguments', async () => {
    const objects = await template(VIREO_CHART, [
      '--set',
      `msteams.url=${seed004Teams}`,
      '--set',
      'msteams.proxy.url=sarah.onthewifi.com',
    ]);
    const secret = find(objects, 'Secret', 'vireo-notifiers');
    expect(secretData(secret)).toEqual({
      MSTEAMS_URL: seed004Teams,
      // A bare host, as the seed writes it, gets a scheme so that the notifier takes it.
      MSTEAMS_PROXY_URL: 'http://sarah.onthewifi.com',
    });
    const container = controllerContainer(objects);
    expect(container.envFrom).toEqual([{ secretRef: { name: 'vireo-notifiers' } }]);
    expect(JSON.stringify(deployment(objects))).not.toContain('webhookb2');
    expect(JSON.stringify(deployment(objects))).not.toContain('onthewifi');
    // A new URL restarts the controller, which reads it at start.
    const other = await template(VIREO_CHART, [
      '--set',
      'msteams.url=https://example.logic.azure.com/workflows/1',
    ]);
    expect(deployment(other).spec.template.metadata.annotations['checksum/notifiers']).not.toBe(
      deployment(objects).spec.template.metadata.annotations['checksum/notifiers'],
    );
  });

  it('accepts every spelling of the proxy: proxyUrl (Flagger template), proxy (its docs), proxy.url (seed write-ups)', async () => {
    for (const [flag, value] of [
      ['slack.proxyUrl', 'http://proxy:3128'],
      ['slack.proxy', 'http://proxy:3128'],
      ['slack.proxy.url', 'http://proxy:3128'],
      ['msteams.proxyUrl', 'proxy:3128'],
    ] as const) {
      const objects = await template(VIREO_CHART, [
        '--set',
        'slack.url=https://hooks.slack.com/services/T/B/X',
        '--set',
        'slack.channel=general',
        '--set',
        'msteams.url=https://example.webhook.office.com/webhookb2/x',
        '--set',
        `${flag}=${value}`,
      ]);
      const data = secretData(find(objects, 'Secret'));
      const key = flag.startsWith('slack') ? 'SLACK_PROXY_URL' : 'MSTEAMS_PROXY_URL';
      expect(data[key], flag).toBe('http://proxy:3128');
    }
  });

  it('slack.url goes into the Secret; slack.user and slack.channel become flags', async () => {
    const objects = await template(VIREO_CHART, [
      '--set',
      'slack.url=https://hooks.slack.com/services/T/B/X',
      '--set',
      'slack.channel=deployments',
      '--set',
      'slack.user=vireo',
    ]);
    expect(secretData(find(objects, 'Secret', 'vireo-notifiers'))).toEqual({
      SLACK_URL: 'https://hooks.slack.com/services/T/B/X',
    });
    expect(args(objects)).toEqual(
      expect.arrayContaining(['--slack-channel=deployments', '--slack-user=vireo']),
    );
    expect(args(objects).join(' ')).not.toContain('hooks.slack.com');
  });

  it.each([
    ['metricsServer=http://prometheus.monitoring:9090', '--metrics-server=http://prometheus.monitoring:9090'],
    ['meshProvider=kubernetes', '--mesh-provider=kubernetes'],
    ['namespace=apps', '--namespace=apps'],
    ['selectorLabels=app\\,team', '--selector-labels=app,team'],
    ['eventWebhook=https://events.example.com/hook', '--event-webhook=https://events.example.com/hook'],
    ['clusterName=prod-eu', '--cluster-name=prod-eu'],
    [
      'ingressAnnotationsPrefix=custom.ingress.kubernetes.io',
      '--ingress-annotations-prefix=custom.ingress.kubernetes.io',
    ],
    ['includeLabelPrefix=app.kubernetes.io', '--include-label-prefix=app.kubernetes.io'],
    ['threadiness=4', '--threadiness=4'],
    ['configTracking.enabled=false', '--no-enable-config-tracking'],
    ['logLevel=debug', '--log-level=debug'],
  ])('%s becomes %s', async (value, flag) => {
    expect(args(await template(VIREO_CHART, ['--set', value]))).toContain(flag);
  });

  it('leaderElection.enabled with replicaCount runs standby replicas campaigning in the release namespace', async () => {
    const objects = await template(
      VIREO_CHART,
      ['--set', 'leaderElection.enabled=true', '--set', 'leaderElection.replicaCount=2'],
      'vireo',
      'ops',
    );
    expect(deployment(objects).spec.replicas).toBe(2);
    expect(deployment(objects).spec.strategy).toBeUndefined();
    expect(args(objects)).toEqual(
      expect.arrayContaining(['--enable-leader-election', '--leader-election-namespace=ops']),
    );
  });

  it('env takes variables from Secrets, after the chart Secret', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vireo-values-')), 'values.yaml');
    writeFileSync(
      file,
      'env:\n  - name: SLACK_URL\n    valueFrom:\n      secretKeyRef:\n        name: slack\n        key: url\n',
    );
    expect(controllerContainer(await template(VIREO_CHART, ['-f', file])).env).toEqual([
      { name: 'SLACK_URL', valueFrom: { secretKeyRef: { name: 'slack', key: 'url' } } },
    ]);
  });

  it('podAnnotations, podLabels, resources, nodeSelector, tolerations, priority class and image values reach the pod', async () => {
    const objects = await template(VIREO_CHART, [
      '--set',
      'podAnnotations.team=delivery',
      '--set',
      'podLabels.tier=ops',
      '--set',
      'resources.limits.memory=1Gi',
      '--set',
      'nodeSelector.pool=system',
      '--set',
      'tolerations[0].key=dedicated',
      '--set',
      'tolerations[0].operator=Exists',
      '--set',
      'podPriorityClassName=system-cluster-critical',
      '--set',
      'image.repository=registry.example.com/vireo',
      '--set',
      'image.tag=dev',
      '--set',
      'image.pullSecret=registry',
    ]);
    const pod = deployment(objects).spec.template;
    expect(pod.metadata.annotations.team).toBe('delivery');
    expect(pod.metadata.labels.tier).toBe('ops');
    expect(pod.spec.containers[0].resources.limits.memory).toBe('1Gi');
    expect(pod.spec.nodeSelector).toEqual({ pool: 'system' });
    expect(pod.spec.tolerations).toEqual([{ key: 'dedicated', operator: 'Exists' }]);
    expect(pod.spec.priorityClassName).toBe('system-cluster-critical');
    expect(pod.spec.containers[0].image).toBe('registry.example.com/vireo:dev');
    expect(pod.spec.imagePullSecrets).toEqual([{ name: 'registry' }]);
  });

  it('securityContext.enabled=false drops the container security context; securityContext.context replaces it', async () => {
    expect(
      controllerContainer(await template(VIREO_CHART, ['--set', 'securityContext.enabled=false']))
        .securityContext,
    ).toBeUndefined();
    const file = join(mkdtempSync(join(tmpdir(), 'vireo-values-')), 'values.yaml');
    writeFileSync(file, 'securityContext:\n  context:\n    runAsUser: 20000\n');
    expect(controllerContainer(await template(VIREO_CHART, ['-f', file])).securityContext.runAsUser).toBe(
      20000,
    );
  });

  it('serviceMonitor.enabled adds a Service and a ServiceMonitor on /metrics; podMonitor.enabled a PodMonitor', async () => {
    const withService = await template(VIREO_CHART, [
      '--set',
      'serviceMonitor.enabled=true',
      '--set',
      'serviceMonitor.additionalLabels.release=kube-prometheus',
    ]);
    const monitor = find(withService, 'ServiceMonitor', 'vireo');
    expect(monitor.metadata.labels!['release']).toBe('kube-prometheus');
    expect(monitor.spec.endpoints[0]).toMatchObject({ path: '/metrics', port: 'http' });
    const service = find(withService, 'Service', 'vireo');
    expect(service.spec.selector).toEqual(deployment(withService).spec.selector.matchLabels);
    const withPod = await template(VIREO_CHART, [
      '--set',
      'podMonitor.enabled=true',
      '--set',
      'podMonitor.namespace=monitoring',
    ]);
    const podMonitor = find(withPod, 'PodMonitor', 'vireo');
    expect(podMonitor.metadata.namespace).toBe('monitoring');
    expect(podMonitor.spec.podMetricsEndpoints[0]).toMatchObject({ path: '/metrics', port: 'http' });
  });

  it('podDisruptionBudget.enabled adds a PDB selecting the controller pods', async () => {
    const objects = await template(VIREO_CHART, ['--set', 'podDisruptionBudget.enabled=true']);
    const pdb = find(objects, 'PodDisruptionBudget', 'vireo');
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(deployment(objects).spec.selector.matchLabels);
  });

  it('crd.create=true renders the CRDs as templates, the same objects as crds/', async () => {
    const crds = (await template(VIREO_CHART, ['--set', 'crd.create=true'])).filter(
      (object) => object.kind === 'CustomResourceDefinition',
    );
    expect(crds.map((crd) => crd.metadata.name).sort()).toEqual([
      'alertproviders.flagger.app',
      'canaries.flagger.app',
      'metrictemplates.flagger.app',
    ]);
    for (const crd of crds) {
      const file = parse(
        readFileSync(join(REPOSITORY, 'crds', `${crd.metadata.name}.yaml`), 'utf8'),
      ) as unknown;
      expect(crd, crd.metadata.name).toEqual(file);
      expect(crd.metadata.annotations!['helm.sh/resource-policy']).toBe('keep');
    }
    expect((await template(VIREO_CHART)).some((object) => object.kind === 'CustomResourceDefinition')).toBe(
      false,
    );
  });

  it('rbac.create=false and serviceAccount.create=false use an existing ServiceAccount and create no RBAC', async () => {
    const objects = await template(VIREO_CHART, [
      '--set',
      'rbac.create=false',
      '--set',
      'serviceAccount.create=false',
      '--set',
      'serviceAccount.name=platform-controller',
    ]);
    expect(objects.filter((object) => /Role|ServiceAccount/.test(object.kind))).toEqual([]);
    expect(deployment(objects).spec.template.spec.serviceAccountName).toBe('platform-controller');
  });

  it('dashboards go into a ConfigMap with the Grafana sidecar label, one key per file of dashboards/', async () => {
    const objects = await template(VIREO_CHART);
    const configMap = find(objects, 'ConfigMap', 'vireo-dashboards');
    expect(configMap.metadata.labels!['grafana_dashboard']).toBe('1');
    const files = readdirSync(join(REPOSITORY, 'dashboards')).filter((name) => name.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    expect(Object.keys(configMap['data'] as object).sort()).toEqual(files.sort());
    for (const file of files)
      expect(JSON.parse(configMap['data'][file] as string), file).toEqual(
        JSON.parse(readFileSync(join(REPOSITORY, 'dashboards', file), 'utf8')),
      );
    const off = await template(VIREO_CHART, ['--set', 'dashboards.enabled=false']);
    expect(off.some((object) => object.kind === 'ConfigMap')).toBe(false);
  });

  it('the client rate limits are accepted without changing the controller', async () => {
    const plain = args(await template(VIREO_CHART));
    expect(
      args(await template(VIREO_CHART, ['--set', 'kubeconfigQPS=100', '--set', 'kubeconfigBurst=250'])),
    ).toEqual(plain);
  });

  it('ingressClass becomes --ingress-class, the class of the contour router HTTPProxy', async () => {
    expect(args(await template(VIREO_CHART, ['--set', 'ingressClass=contour']))).toContain(
      '--ingress-class=contour',
    );
    expect(args(await template(VIREO_CHART)).some((arg) => arg.startsWith('--ingress-class'))).toBe(false);
  });

  it.each([
    ['image.pullPolicy=Always', (o: RenderedObject[]) => controllerContainer(o).imagePullPolicy, 'Always'],
    [
      'serviceAccount.annotations.team=ops',
      (o: RenderedObject[]) => find(o, 'ServiceAccount').metadata.annotations,
      { team: 'ops' },
    ],
    [
      'affinity.nodeAffinity.x=y',
      (o: RenderedObject[]) => deployment(o).spec.template.spec.affinity,
      { nodeAffinity: { x: 'y' } },
    ],
    ['fullnameOverride=delivery', (o: RenderedObject[]) => deployment(o).metadata.name, 'delivery'],
    ['nameOverride=canaries', (o: RenderedObject[]) => deployment(o).metadata.name, 'vireo-canaries'],
    [
      'serviceMonitor.enabled=true,serviceMonitor.interval=10s,serviceMonitor.honorLabels=true',
      (o: RenderedObject[]) => find(o, 'ServiceMonitor').spec.endpoints[0],
      { path: '/metrics', port: 'http', interval: '10s', honorLabels: true },
    ],
    [
      'podMonitor.enabled=true,podMonitor.podLabels.team=ops',
      (o: RenderedObject[]) => find(o, 'PodMonitor').spec.selector.matchLabels.team,
      'ops',
    ],
    [
      'prometheus.install=true,prometheus.retention=6h,prometheus.image=registry.example.com/prometheus:v3',
      (o: RenderedObject[]) => {
        const container = find(o, 'Deployment', 'vireo-prometheus').spec.template.spec.containers[0];
        return [container.image, container.args.includes('--storage.tsdb.retention.time=6h')];
      },
      ['registry.example.com/prometheus:v3', true],
    ],
    [
      'prometheus.install=true,prometheus.scrapeInterval=15s',
      (o: RenderedObject[]) =>
        parse(find(o, 'ConfigMap', 'vireo-prometheus')['data']['prometheus.yml']).global,
      { scrape_interval: '15s', evaluation_interval: '15s' },
    ],
    [
      'dashboards.labels.grafana_folder=Delivery,dashboards.annotations.note=x',
      (o: RenderedObject[]) => {
        const configMap = find(o, 'ConfigMap', 'vireo-dashboards');
        return [configMap.metadata.labels!['grafana_folder'], configMap.metadata.annotations];
      },
      ['Delivery', { note: 'x' }],
    ],
  ] as const)('%s reaches the rendered objects', async (values, read, expected) => {
    expect(read(await template(VIREO_CHART, ['--set', values]))).toEqual(expected);
  });

  it.each([
    ['noCrossNamespaceRefs=true', 'noCrossNamespaceRefs=true: Vireo does not refuse cross-namespace'],
    ['istio.kubeconfig.secretName=remote', 'istio.kubeconfig.secretName: Vireo has no Istio router'],
    ['threadiness=many', 'threadiness: "many" must be a whole number from 1 to 64'],
  ])('%s fails the install with the reason', async (value, reason) => {
    const failure = await template(VIREO_CHART, ['--set', value]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(HelmError);
    expect((failure as HelmError).stderr).toContain(reason);
  });
});

describe('helm 3', () => {
  const seed004 = [
    '--set',
    'prometheus.install=true',
    '--set',
    'meshProvider=nginx',
    '--set',
    `msteams.url=${seed004Teams}`,
    '--set',
    'msteams.proxy.url=sarah.onthewifi.com',
    '--set',
    'crd.create=true',
  ];

  it('lints the chart and renders the same objects as helm 4, with seed 004 values', async () => {
    expect(await helm(['version', '--short'], {}, HELM3)).toMatch(/^v3\.21\./);
    await helm(['lint', '--strict', VIREO_CHART, ...seed004], {}, HELM3);
    const withHelm3 = await template(VIREO_CHART, seed004, 'flagger', 'ingress-nginx', HELM3);
    const withHelm4 = await template(VIREO_CHART, seed004, 'flagger', 'ingress-nginx');
    expect(withHelm3.length).toBeGreaterThan(10);
    expect(withHelm3).toEqual(withHelm4);
  });

  it('fails on the values Vireo refuses, with the same reason', async () => {
    const failure = await template(
      VIREO_CHART,
      ['--set', 'noCrossNamespaceRefs=true'],
      'vireo',
      'vireo-system',
      HELM3,
    ).catch((error: unknown) => error);
    expect((failure as HelmError).stderr).toContain(
      'noCrossNamespaceRefs=true: Vireo does not refuse cross-namespace',
    );
  });
});
