/**
 * charts/loadtester: Flagger's loadtester chart values (`helm upgrade -i flagger-loadtester
 * <chart> --namespace test` keeps the webhook URL http://flagger-loadtester.test/), rendered and
 * read back; then the rendered arguments and Secret run the real `vireo loadtester` (bin/vireo.js)
 * on loopback: the token is required, and the Secret's Authorization key is the header a Canary
 * webhook's secretRef sends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  find,
  helm,
  HELM3,
  HelmError,
  LOADTESTER_CHART,
  REPOSITORY,
  template,
  type RenderedObject,
} from '../support/helm.js';

const packageVersion = (
  JSON.parse(readFileSync(join(REPOSITORY, 'package.json'), 'utf8')) as { version: string }
).version;
const container = (objects: RenderedObject[]): any =>
  find(objects, 'Deployment').spec.template.spec.containers[0];
const render = (args: string[] = []): Promise<RenderedObject[]> =>
  template(LOADTESTER_CHART, args, 'flagger-loadtester', 'test');
const decoded = (secret: RenderedObject): Record<string, string> =>
  Object.fromEntries(
    Object.entries(secret['data'] as Record<string, string>).map(([key, value]) => [
      key,
      Buffer.from(value, 'base64').toString('utf8'),
    ]),
  );

describe('charts/loadtester', () => {
  it('passes helm lint --strict and carries the package version', async () => {
    await helm(['lint', '--strict', LOADTESTER_CHART]);
    await helm(['lint', '--strict', LOADTESTER_CHART], {}, HELM3);
    const chart = parse(readFileSync(join(LOADTESTER_CHART, 'Chart.yaml'), 'utf8')) as Record<string, string>;
    expect([chart['version'], chart['appVersion']]).toEqual([packageVersion, packageVersion]);
  });

  it('release flagger-loadtester keeps the Service name and port webhooks use: http://flagger-loadtester.test/', async () => {
    const objects = await render();
    const service = find(objects, 'Service', 'flagger-loadtester');
    expect(service.metadata.namespace).toBe('test');
    expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    expect(service.spec.selector).toEqual(find(objects, 'Deployment').spec.selector.matchLabels);
    expect(container(objects).image).toBe(`ghcr.io/vireo-dev/vireo:${packageVersion}`);
  });

  it('defaults: the token from a generated Secret, never in the arguments; a state file on a volume; non-root', async () => {
    const objects = await render();
    const loadtester = container(objects);
    expect(loadtester.args).toEqual([
      'loadtester',
      '--port=8080',
      '--host=0.0.0.0',
      '--log-level=info',
      '--timeout=1h',
      '--state-file=/var/lib/vireo-loadtester/gates.json',
    ]);
    expect(loadtester.env).toEqual([
      {
        name: 'VIREO_LOADTESTER_TOKEN',
        valueFrom: { secretKeyRef: { name: 'flagger-loadtester-token', key: 'token' } },
      },
    ]);
    const token = decoded(find(objects, 'Secret', 'flagger-loadtester-token'));
    expect(token['token']).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(token['Authorization']).toBe(`Bearer ${token['token']}`);
    expect(loadtester.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true });
    expect(loadtester.volumeMounts.map((mount: { mountPath: string }) => mount.mountPath)).toContain(
      '/var/lib/vireo-loadtester',
    );
  });

  it.each([
    ['cmd.timeout=30m', '--timeout=30m'],
    ['cmd.namespaceRegexp=^team-', '--namespace-regexp=^team-'],
    ['logLevel=debug', '--log-level=debug'],
    ['allowTargets[0]=*.test', '--allow-target=*.test'],
    ['allowCommands[0]=kubectl rollout status', '--allow-command=kubectl rollout status'],
    ['allowAnyCommand=true', '--allow-any-command'],
  ])('%s becomes %s', async (value, flag) => {
    expect(container(await render(['--set', value])).args).toContain(flag);
  });

  it('token.secretName uses your Secret and creates none', async () => {
    const objects = await render([
      '--set',
      'token.secretName=loadtester-auth',
      '--set',
      'token.secretKey=bearer',
    ]);
    expect(objects.some((object) => object.kind === 'Secret')).toBe(false);
    expect(container(objects).env[0].valueFrom.secretKeyRef).toEqual({
      name: 'loadtester-auth',
      key: 'bearer',
    });
  });

  it('replicaCount, service, podAnnotations, resources, PDB, rbac with scope and rules, serviceAccount', async () => {
    const objects = await render([
      '--set',
      'replicaCount=2',
      '--set',
      'service.port=8080',
      '--set',
      'podAnnotations.team=qa',
      '--set',
      'resources.limits.memory=256Mi',
      '--set',
      'podDisruptionBudget.enabled=true',
      '--set',
      'rbac.create=true',
      '--set',
      'rbac.scope=namespace',
      '--set',
      'rbac.rules[0].apiGroups[0]=apps',
      '--set',
      'rbac.rules[0].resources[0]=deployments',
      '--set',
      'rbac.rules[0].verbs[0]=get',
    ]);
    const deployment = find(objects, 'Deployment');
    expect(deployment.spec.replicas).toBe(2);
    expect(find(objects, 'Service').spec.ports[0].port).toBe(8080);
    expect(deployment.spec.template.metadata.annotations.team).toBe('qa');
    expect(container(objects).resources.limits.memory).toBe('256Mi');
    expect(find(objects, 'PodDisruptionBudget').spec.minAvailable).toBe(1);
    expect(find(objects, 'Role', 'flagger-loadtester')['rules']).toEqual([
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get'] },
    ]);
    expect(find(objects, 'RoleBinding', 'flagger-loadtester')['subjects']).toEqual([
      { kind: 'ServiceAccount', name: 'flagger-loadtester', namespace: 'test' },
    ]);
    const cluster = await render(['--set', 'rbac.create=true', '--set', 'rbac.scope=cluster']);
    expect(find(cluster, 'ClusterRoleBinding', 'flagger-loadtester')['roleRef'].kind).toBe('ClusterRole');
  });

  it.each([
    ['istio.enabled=true', 'istio.enabled: Vireo has no Istio router yet'],
    ['appmesh.enabled=true', 'appmesh.enabled: Vireo has no App Mesh router yet'],
    ['rbac.create=true', 'rbac.scope: "" must be namespace or cluster'],
  ])('%s fails with the reason', async (value, reason) => {
    const failure = await render(['--set', value]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(HelmError);
    expect((failure as HelmError).stderr).toContain(reason);
  });
});

describe('the rendered arguments and Secret run vireo loadtester', () => {
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('refuses a request without the token and accepts the header the Secret holds', async () => {
    const objects = await render(['--set', 'cmd.namespaceRegexp=^test$']);
    const secret = decoded(find(objects, 'Secret', 'flagger-loadtester-token'));
    const directory = mkdtempSync(join(tmpdir(), 'vireo-loadtester-chart-'));
    // The pod's arguments, on loopback and a free port, with the state file in a temporary directory.
    const args = (container(objects).args as string[]).map((arg) =>
      arg === '--port=8080'
        ? '--port=0'
        : arg === '--host=0.0.0.0'
          ? '--host=127.0.0.1'
          : arg.startsWith('--state-file=')
            ? `--state-file=${join(directory, 'gates.json')}`
            : arg,
    );
    child = spawn(process.execPath, [join(REPOSITORY, 'bin', 'vireo.js'), ...args], {
      cwd: REPOSITORY,
      env: { ...process.env, VIREO_LOADTESTER_TOKEN: secret['token'] },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + 60_000;
    let port: string | undefined;
    while (port === undefined) {
      port = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr)?.[1];
      if (port !== undefined) break;
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`loadtester did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const gate = (headers: Record<string, string>, namespace = 'test'): Promise<Response> =>
      fetch(`http://127.0.0.1:${port}/gate/open`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ name: 'podinfo', namespace }),
      });
    expect((await gate({})).status).toBe(401);
    expect((await gate({ authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await gate({ authorization: secret['Authorization']! })).status).toBe(202);
    // cmd.namespaceRegexp reached the process.
    expect((await gate({ authorization: secret['Authorization']! }, 'prod')).status).toBe(403);
    expect(stderr).not.toContain(secret['token']);
  });
});
