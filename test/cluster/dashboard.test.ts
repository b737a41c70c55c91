/**
 * The web dashboard served by the controller binary (`vireo controller --dashboard-port`) on the
 * real test control plane, driven in real Chromium: users sign in with their own ServiceAccount
 * tokens (TokenReview) and see and do what their RBAC allows (SubjectAccessReview); the list shows
 * what `vireo get` prints; a progressing canary's chart gains points without a reload; a halted
 * canary's page shows the measured 95% against the 99% threshold; a pause from the page writes
 * spec.suspend as `vireo pause` does (docs/dashboard.md).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
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
  restrictedUserToken,
} from '../support/kube.js';
import { startMeshExporter, type MeshExporter } from '../support/mesh-exporter.js';
import { freePort, startPrometheus, type TestPrometheus } from '../support/prometheus.js';

const CHROMIUM = '/usr/bin/chromium';
const repository = join(import.meta.dirname, '..', '..');
const NAMESPACE = 'test';
const SCREENSHOTS =
  process.env['VIREO_UPDATE_SCREENSHOTS'] === '1' ? join(repository, 'docs', 'dashboard') : undefined;

type Canary = KubeObject & {
  spec: { suspend?: boolean };
  status?: { phase?: string; canaryWeight?: number };
};

let cluster: TestCluster;
let client: KubeClient;
let controller: ControllerProcess;
let exporter: MeshExporter;
let prometheus: TestPrometheus;
let browser: Browser;
let page: Page;
let dashboardUrl: string;
let operatorToken: string;

const vireo = (args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repository, 'bin', 'vireo.js'), ...args],
      { cwd: repository, env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath }, timeout: 120_000 },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1,
          stdout,
          stderr,
        }),
    );
  });

/** A ServiceAccount in the test namespace allowed `rules` there; its token. */
const userToken = (name: string, rules: object[]): Promise<string> =>
  restrictedUserToken(cluster, client, NAMESPACE, name, rules);

const getCanary = () => client.get<Canary>(RESOURCES.canaries, NAMESPACE, 'podinfo');

async function waitForPhase(phases: string[], timeoutMs = 180_000): Promise<Canary> {
  return (await eventually(
    getCanary,
    (current) => phases.includes(current?.status?.phase ?? ''),
    timeoutMs,
    `podinfo in ${phases.join('|')}`,
  ))!;
}

async function setImage(image: string): Promise<void> {
  await client.mergePatch(RESOURCES.deployments, NAMESPACE, 'podinfo', {
    spec: { template: { spec: { containers: [{ name: 'podinfo', image }] } } },
  });
}

async function screenshot(name: string): Promise<void> {
  const shot = await page.screenshot({
    fullPage: true,
    ...(SCREENSHOTS === undefined ? {} : { path: join(SCREENSHOTS, `cluster-${name}.png`) }),
  });
  expect(shot.length).toBeGreaterThan(5_000);
}

const api = (path: string, token?: string, init: RequestInit = {}) =>
  fetch(new URL(path, dashboardUrl), {
    ...init,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(init.headers as Record<string, string> | undefined),
    },
  });

beforeAll(async () => {
  [cluster, exporter] = await Promise.all([
    startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) }),
    startMeshExporter(),
  ]);
  prometheus = await startPrometheus({ targets: [exporter.target] });
  client = await adminClient(cluster);
  await installCrds(client);
  await prometheus.waitForScrapes(2);
  const port = await freePort();
  dashboardUrl = `http://127.0.0.1:${port}/`;
  controller = await startControllerProcess(cluster.kubeconfigPath, [
    '--metrics-server',
    prometheus.url,
    '--dashboard-port',
    String(port),
  ]);
  await ensureNamespace(client, NAMESPACE);
  operatorToken = await userToken('operator', [
    { apiGroups: ['flagger.app'], resources: ['canaries'], verbs: ['get', 'list', 'watch', 'patch'] },
    { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
    { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get'] },
  ]);
  browser = await chromium.launch({ executablePath: CHROMIUM });
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  if (controller !== undefined) {
    const code = await controller.stop('SIGTERM');
    if (code !== 0) console.error(`controller exited ${code}:\n${controller.tail()}`);
  }
  await client?.close();
  await Promise.allSettled([prometheus?.stop(), exporter?.close()]);
  await cluster?.stop();
}, 60_000);

describe.skipIf(!existsSync(CHROMIUM))(
  'the dashboard from the controller, in Chromium, on a real cluster',
  () => {
    it('refuses requests without a token, and a user without RBAC is told the missing permission', async () => {
      expect((await api('/api/canaries')).status).toBe(401);
      expect((await api('/api/canaries', 'not-a-kubernetes-token')).status).toBe(401);
      const viewer = await userToken('viewer', [
        { apiGroups: ['flagger.app'], resources: ['canaries'], verbs: ['get', 'list'] },
      ]);
      const nobody = await userToken('nobody', []);
      const refused = await api(`/api/canaries/${NAMESPACE}/podinfo`, nobody);
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({
        code: 'E_DASHBOARD_FORBIDDEN',
        permission: `get canaries.flagger.app in namespace ${NAMESPACE}`,
      });
      const session = (await (await api('/api/session', viewer)).json()) as {
        user: string;
        csrfToken: string;
      };
      expect(session.user).toBe(`system:serviceaccount:${NAMESPACE}:viewer`);
      const action = await api(`/api/canaries/${NAMESPACE}/podinfo/actions`, viewer, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-vireo-csrf': session.csrfToken },
        body: JSON.stringify({ action: 'pause', reason: 'not allowed' }),
      });
      expect(action.status).toBe(403);
      expect(await action.json()).toMatchObject({
        permission: `patch canaries.flagger.app in namespace ${NAMESPACE}`,
      });
    });

    it('lists the canary with the values vireo get prints, and its chart gains points as it advances, without a reload', async () => {
      await client.create(RESOURCES.deployments, podinfoDeployment(NAMESPACE));
      await client.create(RESOURCES.ingresses, podinfoIngress(NAMESPACE));
      await client.apply(
        RESOURCES.canaries,
        canary({
          namespace: NAMESPACE,
          provider: 'nginx',
          analysis: {
            interval: '3s',
            threshold: 2,
            stepWeight: 10,
            maxWeight: 50,
            // The mesh exporter's 95% success rate passes a 90% minimum.
            metrics: [{ name: 'request-success-rate', interval: '1m', thresholdRange: { min: 90 } }],
          },
        }),
      );
      await waitForPhase(['Initialized']);
      await page.goto(dashboardUrl);
      await page.fill('#token', operatorToken);
      await page.click('form.signin button');
      const row = page.locator(`tr[data-canary="${NAMESPACE}/podinfo"]`);
      await row.waitFor({ timeout: 60_000 });
      const table = (await vireo(['get', 'canaries', '-n', NAMESPACE])).stdout;
      const [, values] = table
        .trim()
        .split('\n')
        .map((line) => line.split(/\s{3,}/)) as [string[], string[]];
      expect(await row.locator('[data-testid=phase]').textContent()).toBe(values[1]);
      expect(await row.locator('[data-testid=weight]').textContent()).toBe(values[2]);
      expect(await row.locator('[data-testid=in-phase]').getAttribute('data-since')).toBe(values[3]);
      await screenshot('canaries');

      await page.click(`a[href="/canaries/${NAMESPACE}/podinfo"]`);
      await page.locator('[data-testid=weight-chart]').waitFor({ timeout: 30_000 });
      await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
      const pointsOf = async () =>
        Number(await page.locator('[data-testid=weight-chart]').getAttribute('data-points'));
      const before = await pointsOf();
      await setImage('ghcr.io/stefanprodan/podinfo:6.0.1');
      await expect.poll(pointsOf, { timeout: 120_000, interval: 500 }).toBeGreaterThanOrEqual(before + 3);
      expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
        true,
      );
      await expect
        .poll(() => page.locator('[data-testid=canary-revision]').textContent(), { timeout: 30_000 })
        .toBe('ghcr.io/stefanprodan/podinfo:6.0.1');
      await screenshot('canary-progressing');
    });

    it('a pause from the page writes spec.suspend as vireo pause does, and resume clears it', async () => {
      await page.click('button[data-action=pause]');
      await page.fill('[data-testid=reason]', 'hold for the browser test');
      await page.click('[data-testid=confirm]');
      await expect.poll(async () => (await getCanary())?.spec.suspend, { timeout: 30_000 }).toBe(true);
      const annotation = (await getCanary())?.metadata.annotations?.['vireo.dev/request'] ?? '';
      expect(JSON.parse(annotation)).toMatchObject({
        action: 'pause',
        by: `system:serviceaccount:${NAMESPACE}:operator`,
        reason: 'hold for the browser test',
      });
      await expect
        .poll(async () => (await vireo(['status', 'podinfo', '-n', NAMESPACE])).stdout, { timeout: 30_000 })
        .toMatch(/^Suspended: +yes/m);
      await expect
        .poll(
          async () => (await getCanary())?.metadata.annotations?.['vireo.dev/request-done'] !== undefined,
          { timeout: 60_000 },
        )
        .toBe(true);
      await page.click('button[data-action=resume]');
      await page.fill('[data-testid=reason]', 'go on');
      await page.click('[data-testid=confirm]');
      await expect.poll(async () => (await getCanary())?.spec.suspend, { timeout: 30_000 }).toBe(false);
    });

    it("a halted canary's page shows the measured value against its threshold with its sample size, and the health page the controller's", async () => {
      await waitForPhase(['Succeeded', 'Failed']);
      const current = (await getCanary())!;
      const spec = current.spec as unknown as {
        analysis: { metrics: { thresholdRange: { min: number } }[] };
      };
      spec.analysis.metrics[0]!.thresholdRange.min = 99;
      await client.mergePatch(RESOURCES.canaries, NAMESPACE, 'podinfo', {
        spec: { analysis: spec.analysis },
      });
      await setImage('ghcr.io/stefanprodan/podinfo:6.0.2');
      await waitForPhase(['Failed']);
      const last = page.locator('[data-testid=check-last-request-success-rate]');
      await expect
        .poll(() => last.textContent(), { timeout: 60_000 })
        .toMatch(/request-success-rate 95(\.00)?% < 99 \(min 99\) failed \[requests [1-9]\d*\]/);
      await expect
        .poll(() => page.locator('[data-testid=detail-phase]').textContent(), { timeout: 30_000 })
        .toBe('Failed');
      expect(await page.locator('[data-testid=timeline]').textContent()).toMatch(
        /rollback: Canary failed! Scaling down podinfo\.test/,
      );
      await screenshot('canary-halted');

      await page.click('a[href="/health"]');
      await page.locator('[data-testid=health]').waitFor({ timeout: 30_000 });
      expect(await page.locator('[data-key="controller.leader"]').textContent()).toBe('true');
      expect(await page.locator('[data-key="controller.watches.canaries"]').textContent()).toBe('current');
      expect(await page.locator('[data-key="mode"]').textContent()).toBe('controller');
      await screenshot('health');
      expect(readFileSync(join(repository, 'docs', 'dashboard.md'), 'utf8')).toContain('Health');
    });
  },
);
