/**
 * `vireo local apply | status | down`, the built binary: apply starts the daemon with a user's
 * manifest, the router answers on the Canary's service port, status reports the canary, down
 * stops every process it started.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processAlive } from '../../src/platforms/local/process-group.js';
import { findFreePort } from '../../src/platforms/local/supervisor.js';

const repository = join(import.meta.dirname, '..', '..');
let stateDirectory = mkdtempSync(join(tmpdir(), 'vireo-local-e2e-'));
const directories = [stateDirectory];

function vireo(...args: string[]) {
  return spawnSync(process.execPath, ['bin/vireo.js', ...args], {
    cwd: repository,
    encoding: 'utf8',
    env: { ...process.env, VIREO_STATE_DIR: stateDirectory },
    timeout: 60_000,
  });
}

afterAll(() => {
  for (const directory of directories) {
    stateDirectory = directory;
    vireo('local', 'down');
    rmSync(directory, { recursive: true, force: true });
  }
});

describe('vireo local', () => {
  it('applies a manifest, serves through the router, reports status and goes down', async () => {
    const port = await findFreePort();
    const manifest = readFileSync(join(repository, 'examples', 'local', 'web.yaml'), 'utf8')
      .replace('port: 8080', `port: ${port}`)
      .replace('../../dist/', `${repository}/dist/`);
    const file = join(stateDirectory, 'web.yaml');
    writeFileSync(file, manifest);

    const applied = vireo('local', 'apply', '-f', file);
    expect(applied.status, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/^CANARY\s+PHASE\s+WEIGHT/);
    expect(applied.stdout).toContain('web.local');

    await expect
      .poll(
        async () => {
          const answer = await fetch(`http://127.0.0.1:${port}/version`).catch(() => undefined);
          return answer?.status === 200 ? await answer.json() : undefined;
        },
        { timeout: 30_000, interval: 250 },
      )
      .toEqual({ version: '1.0.0' });

    const status = vireo('local', 'status', '-o', 'json');
    expect(status.status).toBe(0);
    const [canary] = JSON.parse(status.stdout) as { canary: string; url: string; primaryReplicas: string }[];
    expect(canary).toMatchObject({
      canary: 'web.local',
      url: `http://127.0.0.1:${port}`,
      primaryReplicas: '2/2',
    });

    const text = vireo('local', 'status');
    const metricsUrl = /^metrics: (\S+)$/m.exec(text.stdout)?.[1];
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const exposition = await (await fetch(metricsUrl!)).text();
    expect(exposition).toContain(
      'vireo_router_requests_total{namespace="local",service="web",backend="primary",code="200"}',
    );
    expect(exposition).toContain('flagger_info');

    const daemon = JSON.parse(readFileSync(join(stateDirectory, 'daemon.json'), 'utf8')) as { pid: number };
    const down = vireo('local', 'down');
    expect(down.status).toBe(0);
    expect(down.stdout).toContain('vireo local stopped');
    // A zombie (pid 1 may not reap the detached daemon here) is not alive.
    expect(await processAlive(daemon.pid)).toBe(false);
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    const after = vireo('local', 'status');
    expect(after.status).toBe(1);
    expect(after.stderr).toContain('vireo local is not running');
  });

  it('down stops the replicas of a daemon that was killed', async () => {
    // A state directory of its own: the first test's file still declares web.local in its own.
    stateDirectory = mkdtempSync(join(tmpdir(), 'vireo-local-e2e-'));
    directories.push(stateDirectory);
    const port = await findFreePort();
    const file = join(stateDirectory, 'killed.yaml');
    writeFileSync(
      file,
      readFileSync(join(repository, 'examples', 'local', 'web.yaml'), 'utf8')
        .replace('port: 8080', `port: ${port}`)
        .replace('../../dist/', `${repository}/dist/`),
    );
    expect(vireo('local', 'apply', '-f', file).status).toBe(0);
    await expect
      .poll(
        () =>
          fetch(`http://127.0.0.1:${port}/version`).then(
            (answer) => answer.status,
            () => 0,
          ),
        {
          timeout: 30_000,
          interval: 250,
        },
      )
      .toBe(200);
    const replicas = JSON.parse(readFileSync(join(stateDirectory, 'replicas.json'), 'utf8')) as number[];
    expect(replicas.length).toBeGreaterThan(0);
    const daemon = JSON.parse(readFileSync(join(stateDirectory, 'daemon.json'), 'utf8')) as { pid: number };
    process.kill(daemon.pid, 'SIGKILL');
    await expect.poll(() => processAlive(daemon.pid), { timeout: 5_000 }).toBe(false);
    // Orphans of a killed daemon may linger as zombies where pid 1 does not reap: /proc tells them apart.
    expect(await Promise.all(replicas.map((pid) => processAlive(pid)))).not.toContain(false);

    const down = vireo('local', 'down');
    expect(down.status).toBe(0);
    expect(down.stdout).toMatch(/stopped \d+ process group\(s\) it left behind/);
    expect(await Promise.all(replicas.map((pid) => processAlive(pid)))).not.toContain(true);
  });

  it('refuses a manifest whose Canary does not name a Workload, saying which', () => {
    const file = join(stateDirectory, 'bad.yaml');
    writeFileSync(
      file,
      readFileSync(join(repository, 'examples', 'local', 'web.yaml'), 'utf8').replace(
        'kind: Workload\n    name: web',
        'kind: Workload\n    name: api',
      ),
    );
    const result = vireo('local', 'apply', '-f', file);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'Canary/web spec.targetRef: no Workload "api" in namespace local in this file',
    );
  });
});
