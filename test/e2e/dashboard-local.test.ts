/**
 * The web dashboard in real Chromium (Debian's /usr/bin/chromium driven by playwright-core)
 * against local mode with the built binary and real processes (docs/dashboard.md): the list shows
 * what `vireo get` shows; a progressing canary's weight chart gains points without a reload; a
 * halted canary's page shows the check's value against its threshold; a pause from the page is
 * honoured and recorded as the CLI's is; requests without the token are refused. Screenshots are
 * checked through the page's content; with VIREO_UPDATE_SCREENSHOTS=1 they are written to docs/dashboard/.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { findFreePort } from '../../src/platforms/local/supervisor.js';

vi.setConfig({ testTimeout: 400_000, hookTimeout: 120_000 });

const CHROMIUM = '/usr/bin/chromium';
const repository = join(import.meta.dirname, '..', '..');
const stateDirectory = mkdtempSync(join(tmpdir(), 'vireo-dashboard-e2e-'));
const TOKEN = 'e2e-dashboard-token-5f1c9a7e3b';
const SCREENSHOTS =
  process.env['VIREO_UPDATE_SCREENSHOTS'] === '1' ? join(repository, 'docs', 'dashboard') : stateDirectory;

function vireo(...args: string[]) {
  return spawnSync(process.execPath, ['bin/vireo.js', ...args], {
    cwd: repository,
    encoding: 'utf8',
    env: { ...process.env, VIREO_STATE_DIR: stateDirectory },
    timeout: 120_000,
  });
}

let dashboard: ChildProcess | undefined;
let dashboardUrl: string;
let browser: Browser;
let page: Page;
let servicePort: number;
let manifest: string;
const manifestFile = join(stateDirectory, 'web.yaml');
let trafficOn = false;
let traffic: Promise<void> = Promise.resolve();

function startTraffic(): void {
  trafficOn = true;
  traffic = (async () => {
    while (trafficOn) {
      await fetch(`http://127.0.0.1:${servicePort}/`).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
}

async function stopTraffic(): Promise<void> {
  trafficOn = false;
  await traffic;
}

const getTable = () => vireo('get', '-n', 'local', '--local');
const phaseOf = (): string => {
  const listed = vireo('get', 'canaries', '-n', 'local', '--local', '-o', 'json');
  const list = JSON.parse(listed.stdout || '{"items":[]}') as { items: { status?: { phase?: string } }[] };
  return list.items[0]?.status?.phase ?? '';
};

/** Polls outside a test (expect.poll works only inside one). */
async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function screenshot(name: string): Promise<void> {
  const file = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  expect(readFileSync(file).length).toBeGreaterThan(5_000);
}

beforeAll(async () => {
  servicePort = await findFreePort();
  manifest = readFileSync(join(repository, 'examples', 'local', 'web.yaml'), 'utf8')
    .replace('port: 8080', `port: ${servicePort}`)
    .replace('../../dist/', `${repository}/dist/`);
  writeFileSync(manifestFile, manifest);
  const applied = vireo('local', 'apply', '-f', manifestFile);
  expect(applied.status, applied.stderr).toBe(0);
  await waitFor('the canary to be initialized', () => phaseOf() === 'Initialized', 60_000);

  const port = await findFreePort();
  dashboardUrl = `http://127.0.0.1:${port}/`;
  dashboard = spawn(
    process.execPath,
    ['bin/vireo.js', 'dashboard', '--local', '--address', `127.0.0.1:${port}`],
    {
      cwd: repository,
      env: { ...process.env, VIREO_STATE_DIR: stateDirectory, VIREO_DASHBOARD_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  dashboard.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  dashboard.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(
    `the dashboard to serve (${output})`,
    () => output.includes('serving state directory'),
    60_000,
  );

  browser = await chromium.launch({ executablePath: CHROMIUM });
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
}, 180_000);

afterAll(async () => {
  await stopTraffic();
  await browser?.close();
  dashboard?.kill('SIGTERM');
  vireo('local', 'down');
  rmSync(stateDirectory, { recursive: true, force: true });
});

describe.skipIf(!existsSync(CHROMIUM))('the dashboard in Chromium against local mode', () => {
  it('refuses the API without the token, and the page asks for one', async () => {
    const refused = await fetch(new URL('/api/canaries', dashboardUrl));
    expect(refused.status).toBe(401);
    const wrong = await fetch(new URL('/api/canaries', dashboardUrl), {
      headers: { authorization: 'Bearer not-the-token-at-all' },
    });
    expect(wrong.status).toBe(401);
    await page.goto(dashboardUrl);
    await page.locator('form.signin').waitFor();
    await screenshot('sign-in');
    await page.fill('#token', 'not-the-token-at-all');
    await page.click('form.signin button');
    await expect
      .poll(() => page.locator('[role=alert]').textContent(), { timeout: 30_000 })
      .toContain('not accepted');
  });

  it('lists the canaries with the values vireo get prints', async () => {
    await page.fill('#token', TOKEN);
    await page.click('form.signin button');
    const row = page.locator('tr[data-canary="local/web"]');
    await row.waitFor({ timeout: 30_000 });
    const table = getTable().stdout;
    const [, values] = table
      .trim()
      .split('\n')
      .map((line) => line.split(/\s{3,}/)) as [string[], string[]];
    // NAME STATUS WEIGHT LASTTRANSITIONTIME, as vireo get prints them.
    expect(await row.locator('[data-testid=name]').textContent()).toBe(values[0]);
    expect(await row.locator('[data-testid=phase]').textContent()).toBe(values[1]);
    expect(await row.locator('[data-testid=weight]').textContent()).toBe(values[2]);
    expect(await row.locator('[data-testid=in-phase]').getAttribute('data-since')).toBe(values[3]);
    expect(await row.locator('[data-testid=failed]').textContent()).toBe('0 of 2');
    await screenshot('canaries');
  });

  it("a progressing canary's weight chart gains points as it advances, without a reload", async () => {
    await page.click('a[href="/canaries/local/web"]');
    await page.locator('[data-testid=weight-chart]').waitFor({ timeout: 30_000 });
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const pointsOf = async () =>
      Number(await page.locator('[data-testid=weight-chart]').getAttribute('data-points'));
    const before = await pointsOf();
    writeFileSync(manifestFile, manifest.replace("VERSION: '1.0.0'", "VERSION: '2.0.0'"));
    expect(vireo('local', 'apply', '-f', manifestFile, '--no-wait').status).toBe(0);
    startTraffic();
    await expect.poll(pointsOf, { timeout: 120_000, interval: 500 }).toBeGreaterThanOrEqual(before + 3);
    await expect
      .poll(() => page.locator('[data-testid=detail-phase]').textContent(), { timeout: 60_000 })
      .toBe('Progressing');
    expect(
      Number(
        await page
          .locator('[data-testid=detail-weight]')
          .textContent()
          .then((text) => text?.replace('%', '')),
      ),
    ).toBeGreaterThan(0);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
      true,
    );
    expect(await page.locator('[data-testid=check-chart-request-success-rate]').count()).toBe(1);
    await screenshot('canary-progressing');
  });

  it('a pause from the page is honoured and recorded with its reason, as vireo pause is', async () => {
    await page.click('button[data-action=pause]');
    await page.fill('[data-testid=reason]', 'holding for the browser test');
    await page.click('[data-testid=confirm]');
    await expect
      .poll(() => page.locator('[data-testid=notice]').textContent(), { timeout: 30_000 })
      .toContain('pause requested');
    await expect
      .poll(() => vireo('explain', 'web', '-n', 'local', '--local').stdout, {
        timeout: 60_000,
        interval: 1000,
      })
      .toContain('holding for the browser test');
    await expect
      .poll(() => vireo('status', 'web', '-n', 'local', '--local').stdout, { timeout: 30_000 })
      .toMatch(/^Suspended: +yes/m);
    // The page shows the recorded pause without a reload.
    await expect
      .poll(() => page.locator('[data-testid=timeline]').textContent(), { timeout: 30_000 })
      .toContain('holding for the browser test');
    await page.click('button[data-action=resume]');
    await page.fill('[data-testid=reason]', 'resuming for the browser test');
    await page.click('[data-testid=confirm]');
    await expect
      .poll(() => vireo('status', 'web', '-n', 'local', '--local').stdout, {
        timeout: 60_000,
        interval: 1000,
      })
      .not.toMatch(/^Suspended: +yes/m);
  });

  it("a halted canary's page shows the check's value against its threshold and its sample size", async () => {
    await expect.poll(phaseOf, { timeout: 240_000, interval: 1000 }).toMatch(/Succeeded|Failed/);
    writeFileSync(
      manifestFile,
      manifest.replace("VERSION: '1.0.0'", "VERSION: '3.0.0'\n    ERROR_RATE: '0.5'"),
    );
    expect(vireo('local', 'apply', '-f', manifestFile, '--no-wait').status).toBe(0);
    await expect.poll(phaseOf, { timeout: 240_000, interval: 1000 }).toBe('Failed');
    await stopTraffic();
    const last = page.locator('[data-testid=check-last-request-success-rate]');
    await expect
      .poll(() => last.textContent(), { timeout: 60_000 })
      .toMatch(/request-success-rate [\d.]+% < 99 \(min 99\) failed/);
    // The page's last measurement is the one `vireo explain` prints last.
    const lastInExplain = (): string =>
      [
        ...vireo('explain', 'web', '-n', 'local', '--local').stdout.matchAll(
          /request-success-rate ([\d.]+)% < 99 \(min 99\) failed/g,
        ),
      ].at(-1)?.[1] ?? 'none';
    await expect
      .poll(async () => (await last.textContent())?.includes(`${lastInExplain()}% < 99`), {
        timeout: 60_000,
        interval: 1000,
      })
      .toBe(true);
    await expect
      .poll(() => page.locator('[data-testid=detail-phase]').textContent(), { timeout: 30_000 })
      .toBe('Failed');
    expect(await page.locator('[data-testid=timeline]').textContent()).toMatch(/rollback: Canary failed!/);
    // The sample size: how many canary requests the failing value was measured on.
    expect(await last.textContent()).toMatch(/failed \[requests [1-9]\d*\]/);
    await screenshot('canary-halted');
  });

  it('the health page shows the feed of the one watch', async () => {
    await page.click('a[href="/health"]');
    await page.locator('[data-testid=health]').waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-key="feed.canaries"]').textContent()).toBe('1');
    expect(await page.locator('[data-key="mode"]').textContent()).toBe('local');
    await screenshot('health');
  });
});
