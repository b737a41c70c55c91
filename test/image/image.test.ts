/**
 * The container image, built from the Dockerfile with buildah and run with podman as a cluster
 * runs it: non-root, read-only root filesystem, tini as PID 1. It reports the same version as
 * its labels and package.json, serves the loadtester and the demo service, and its controller,
 * under the ServiceAccount of kustomize/base, completes a canary on the test cluster.
 *
 * Needs root and buildah (CI runs as root; scripts/test-all.sh installs buildah); otherwise the
 * suite is skipped and says why. A cold build takes minutes (docs/install.md), so the hook
 * timeout is long; the build is a no-op when the image is up to date.
 */
import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { canary, podinfoDeployment } from '../support/canary-fixtures.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import {
  buildTestImage,
  imageTestsUnavailable,
  podman,
  runInImage,
  startContainer,
  waitForHttp,
} from '../support/container-image.js';
import { adminClient, adminKubeConfig, ensureNamespace, eventually } from '../support/kube.js';
import { kubeConfigWithToken } from '../support/kubeconfig.js';
import { freePort } from '../support/prometheus.js';

const repository = join(import.meta.dirname, '..', '..');
const { version } = JSON.parse(readFileSync(join(repository, 'package.json'), 'utf8')) as { version: string };
const KUBECTL = join(
  process.env['VIREO_KUBE_BIN_DIR'] ?? join(repository, '.cache', 'kube', 'bin'),
  'kubectl',
);
const UID = 10001;
/** As a Pod with readOnlyRootFilesystem, runAsNonRoot and an emptyDir on /tmp (kustomize/base). */
const AS_IN_KUBERNETES = [
  '--read-only',
  '--read-only-tmpfs',
  '--cap-drop',
  'ALL',
  '--security-opt',
  'no-new-privileges',
];

const unavailable = imageTestsUnavailable();
if (unavailable !== undefined) console.log(`[image] skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('the container image', () => {
  let image: string;

  beforeAll(async () => {
    image = await buildTestImage();
    console.log(`[image] ${image}`);
  }, 1_800_000);

  interface ImageConfig {
    Labels: Record<string, string>;
    User: string;
    Entrypoint: string[];
    Cmd: string[];
  }
  const configOf = async (): Promise<ImageConfig & { Healthcheck?: unknown }> => {
    const { stdout } = await podman('image', 'inspect', image);
    const [inspected] = JSON.parse(stdout) as [{ Config: ImageConfig; Healthcheck?: unknown }];
    return { ...inspected.Config, Healthcheck: inspected.Healthcheck };
  };

  it('prints the version, the commit of its labels and its Node version, as uid 10001 on a read-only root', async () => {
    const config = await configOf();
    expect(config.Labels['org.opencontainers.image.version']).toBe(version);
    const commit = config.Labels['org.opencontainers.image.revision'];
    expect(commit).toMatch(/^[0-9a-f]{40}$/);

    const result = await runInImage(image, AS_IN_KUBERNETES, ['--version']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`^vireo ${version} \\(commit ${commit}, node v20\\.\\d+\\.\\d+\\)\\n$`),
    );

    // `vireo` is on the PATH too, for `kubectl exec … vireo --version`; the user is uid 10001.
    const shell = await runInImage(
      image,
      [...AS_IN_KUBERNETES, '--entrypoint', 'sh'],
      ['-c', 'vireo --version && id -u'],
    );
    expect(shell.stdout).toBe(`${result.stdout}${UID}\n`);
  });

  it('names tini as PID 1 and the controller as the default command, with no HEALTHCHECK (Kubernetes probes /healthz)', async () => {
    const config = await configOf();
    expect(config.User).toBe(`${UID}:${UID}`);
    expect(config.Entrypoint).toEqual([
      '/usr/bin/tini',
      '--',
      'node',
      '--max-semi-space-size=4',
      '/app/bin/vireo.js',
    ]);
    expect(config.Cmd).toEqual(['controller']);
    expect(config.Healthcheck ?? null).toBeNull();
  });

  it('serves the loadtester under tini with production dependencies and hey, and stops on SIGTERM with exit code 0', async () => {
    const port = await freePort();
    const container = startContainer(image, `vireo-loadtester-${port}`, AS_IN_KUBERNETES, [
      'loadtester',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--state-file',
      '/tmp/gates.json',
    ]);
    try {
      await waitForHttp(`http://127.0.0.1:${port}/healthz`, container, 120_000);
      // A gate is state the loadtester writes: to /tmp, the one writable place.
      const opened = await fetch(`http://127.0.0.1:${port}/gate/open`, {
        method: 'POST',
        body: JSON.stringify({ name: 'podinfo', namespace: 'test' }),
        headers: { 'content-type': 'application/json' },
      });
      expect(opened.status).toBe(202);
      const check = await fetch(`http://127.0.0.1:${port}/gate/check`, {
        method: 'POST',
        body: JSON.stringify({ name: 'podinfo', namespace: 'test' }),
        headers: { 'content-type': 'application/json' },
      });
      expect(check.status).toBe(200);

      // PID 1 is tini, and node (the loadtester) is its child.
      const pid1 = await podman('exec', container.name, 'cat', '/proc/1/cmdline');
      expect(pid1.stdout.split('\0').slice(0, 6)).toEqual([
        '/usr/bin/tini',
        '--',
        'node',
        '--max-semi-space-size=4',
        '/app/bin/vireo.js',
        'loadtester',
      ]);
      // Production dependencies only.
      const modules = (await podman('exec', container.name, 'ls', '/app/node_modules')).stdout.split('\n');
      expect(modules).toContain('fastify');
      expect(modules).toContain('@kubernetes');
      for (const development of ['typescript', 'vitest', 'eslint', 'prettier', 'tsx']) {
        expect(modules, development).not.toContain(development);
      }
      // hey, the loadtester's load generator, is on the PATH.
      expect((await podman('exec', container.name, 'sh', '-c', 'command -v hey')).stdout.trim()).toBe(
        '/usr/bin/hey',
      );
    } finally {
      // tini passes SIGTERM on to node, which stops the loadtester and exits 0.
      expect(await container.stop('SIGTERM')).toBe(0);
    }
  });

  it('serves the demo service and stops on SIGTERM with exit code 0', async () => {
    const port = await freePort();
    const container = startContainer(
      image,
      `vireo-demo-service-${port}`,
      [...AS_IN_KUBERNETES, '--env', `PORT=${port}`, '--env', 'VERSION=2.0.0'],
      ['demo-service'],
    );
    try {
      await waitForHttp(`http://127.0.0.1:${port}/version`, container, 120_000);
      const answer = await fetch(`http://127.0.0.1:${port}/`);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-version')).toBe('2.0.0');
      expect(container.output()).toContain(`listening on http://127.0.0.1:${port}`);
    } finally {
      expect(await container.stop('SIGTERM')).toBe(0);
    }
  });

  describe('vireo controller from the image', () => {
    let cluster: TestCluster;
    let client: KubeClient;

    beforeAll(async () => {
      cluster = await startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) });
      client = await adminClient(cluster);
      // The ServiceAccount, RBAC and CRDs the kustomize install creates.
      await promisify(execFile)(
        KUBECTL,
        ['--kubeconfig', cluster.kubeconfigPath, 'apply', '-k', 'kustomize/base'],
        {
          cwd: repository,
          maxBuffer: 16 * 1024 * 1024,
        },
      );
    }, 300_000);

    afterAll(async () => {
      await client?.close();
      await cluster?.stop();
    }, 60_000);

    it('given kustomize/base applied, when the image runs the controller with the ServiceAccount token, non-root on a read-only root, then it completes a canary and stops cleanly on SIGTERM', async () => {
      const token = await cluster.tokenFor('vireo-system', 'vireo');
      const kubeconfigPath = join(mkdtempSync(join(tmpdir(), 'vireo-image-')), 'kubeconfig');
      writeFileSync(kubeconfigPath, kubeConfigWithToken(adminKubeConfig(cluster), token).exportConfig(), {
        mode: 0o600,
      });
      // Readable by the container's user only, as a mounted Secret would be.
      chownSync(kubeconfigPath, UID, UID);

      const namespace = 'from-image';
      await ensureNamespace(client, namespace);
      await client.create(RESOURCES.deployments, podinfoDeployment(namespace));
      await client.apply(
        RESOURCES.canaries,
        canary({
          namespace,
          provider: 'kubernetes',
          analysis: { interval: '2s', threshold: 2, iterations: 2 },
        }),
      );
      const port = await freePort();
      const controller = startContainer(
        image,
        `vireo-controller-${port}`,
        [...AS_IN_KUBERNETES, '--volume', `${kubeconfigPath}:/etc/vireo/kubeconfig:ro`],
        [
          'controller',
          '--kubeconfig',
          '/etc/vireo/kubeconfig',
          '--port',
          String(port),
          '--host',
          '127.0.0.1',
          '--log-level',
          'debug',
          '--min-analysis-interval',
          '1s',
        ],
      );
      try {
        await waitForHttp(`http://127.0.0.1:${port}/healthz`, controller, 120_000);
        const phase = (): Promise<(KubeObject & { status?: { phase?: string } }) | undefined> =>
          client.get(RESOURCES.canaries, namespace, 'podinfo');
        await eventually(
          phase,
          (current) => current?.status?.phase === 'Initialized',
          90_000,
          'the canary initialized',
        );
        await client.mergePatch(RESOURCES.deployments, namespace, 'podinfo', {
          spec: { template: { metadata: { annotations: { 'example.com/revision': '2' } } } },
        });
        await eventually(
          phase,
          (current) => current?.status?.phase === 'Succeeded',
          120_000,
          'the canary promoted',
        );
        const forbidden = controller.logs.filter((line) =>
          JSON.stringify(line).toLowerCase().includes('forbidden'),
        );
        expect(forbidden).toEqual([]);
      } catch (error) {
        console.error(controller.tail(80));
        throw error;
      } finally {
        // tini passes SIGTERM on to node, which stops the controller cleanly.
        expect(await controller.stop('SIGTERM')).toBe(0);
      }
    });
  });
});
