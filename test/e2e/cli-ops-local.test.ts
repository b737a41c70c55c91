/**
 * `vireo get`, `status` and `explain` in local mode, with the built binary and real processes:
 * a new revision answering half its requests with HTTP 500 halts on its success rate and rolls
 * back, and the commands (reading the state directory with --local) show the phase, the measured
 * value against its range and the failed checks against the threshold (docs/cli-operations.md);
 * the later tests use that state directory: kubectl runs the binary as a plugin, bash completes names.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { findFreePort } from '../../src/platforms/local/supervisor.js';

vi.setConfig({ testTimeout: 300_000 });

const repository = join(import.meta.dirname, '..', '..');
const stateDirectory = mkdtempSync(join(tmpdir(), 'vireo-ops-e2e-'));

function vireo(...args: string[]) {
  return spawnSync(process.execPath, ['bin/vireo.js', ...args], {
    cwd: repository,
    encoding: 'utf8',
    env: { ...process.env, VIREO_STATE_DIR: stateDirectory },
    timeout: 120_000,
  });
}

afterAll(() => {
  vireo('local', 'down');
  rmSync(stateDirectory, { recursive: true, force: true });
});

const phaseOf = (): string => {
  const listed = vireo('get', 'canaries', '-n', 'local', '--local', '-o', 'json');
  const list = JSON.parse(listed.stdout || '{"items":[]}') as { items: { status?: { phase?: string } }[] };
  return list.items[0]?.status?.phase ?? '';
};

describe('vireo get, status and explain in local mode', () => {
  it('given a revision that fails half its requests, when it rolls back, then status and explain show the measured value, its range and the failed checks', async () => {
    const port = await findFreePort();
    const manifest = readFileSync(join(repository, 'examples', 'local', 'web.yaml'), 'utf8')
      .replace('port: 8080', `port: ${port}`)
      .replace('../../dist/', `${repository}/dist/`);
    const file = join(stateDirectory, 'web.yaml');
    writeFileSync(file, manifest);
    const applied = vireo('local', 'apply', '-f', file);
    expect(applied.status, applied.stderr).toBe(0);
    await expect.poll(phaseOf, { timeout: 60_000, interval: 500 }).toBe('Initialized');

    writeFileSync(file, manifest.replace("VERSION: '1.0.0'", "VERSION: '2.0.0'\n    ERROR_RATE: '0.5'"));
    expect(vireo('local', 'apply', '-f', file, '--no-wait').status).toBe(0);
    // Traffic for the checks to measure, until the canary has been judged.
    let judged = false;
    const traffic = (async () => {
      while (!judged) {
        await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      await expect.poll(phaseOf, { timeout: 240_000, interval: 1000 }).toBe('Failed');
    } finally {
      judged = true;
      await traffic;
    }

    const table = vireo('get', '-n', 'local', '--local');
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(
      /^NAME {3}STATUS {3}WEIGHT {3}LASTTRANSITIONTIME\nweb {4}Failed {3}0 {8}\d{4}-\d\d-\d\dT/,
    );

    const explain = vireo('explain', 'web', '-n', 'local', '--local');
    expect(explain.status, explain.stderr).toBe(0);
    expect(explain.stdout).toMatch(/ halt: Halt web\.local advancement success rate [\d.]+% < 99%/);
    expect(explain.stdout).toMatch(
      /request-success-rate [\d.]+% < 99 \(min 99\) failed \[requests [1-9]\d*\]/,
    );
    expect(explain.stdout).toMatch(/ rollback: Canary failed! Scaling down web\.local/);
    expect(explain.stdout).toMatch(/2 of 2 failed checks/);

    const status = vireo('status', 'web', '-n', 'local', '--local');
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^Phase: +Failed for /m);
    expect(status.stdout).toMatch(
      /request-success-rate [\d.]+% < 99 \(min 99\) failed \[requests [1-9]\d*\]/,
    );
    expect(status.stdout).toMatch(/^Primary: +spec [0-9a-f]{8}$/m);
    expect(status.stdout).toMatch(/^Last decision: .* rollback: /m);

    const missing = vireo('status', 'nope', '-n', 'local', '--local');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/canary nope not found in namespace local .*\[E_CANARY_NOT_FOUND\]/);
  });

  it.skipIf(!existsSync('/usr/bin/kubectl') && !existsSync('/usr/local/bin/kubectl'))(
    'installed as kubectl-vireo, kubectl runs it as a plugin: kubectl vireo get --local',
    () => {
      const bin = join(stateDirectory, 'plugin-bin');
      mkdirSync(bin, { recursive: true });
      symlinkSync(join(repository, 'bin', 'vireo.js'), join(bin, 'kubectl-vireo'));
      const run = spawnSync('kubectl', ['vireo', 'get', 'canaries', '-n', 'local', '--local', '-o', 'name'], {
        cwd: repository,
        encoding: 'utf8',
        env: { ...process.env, VIREO_STATE_DIR: stateDirectory, PATH: `${bin}:${process.env['PATH'] ?? ''}` },
        timeout: 60_000,
      });
      expect(run.stderr).toBe('');
      expect(run.stdout).toBe('canary.flagger.app/web\n');
    },
  );

  it('bash completion offers commands, flags and the canary names of the state directory', () => {
    const script = vireo('completion', 'bash').stdout;
    const complete = (words: string[]): string =>
      spawnSync(
        'bash',
        [
          '-c',
          'eval "$SCRIPT"; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _vireo; echo "${COMPREPLY[*]}"',
          'bash',
          ...words,
        ],
        { cwd: repository, encoding: 'utf8', env: { ...process.env, SCRIPT: script }, timeout: 60_000 },
      ).stdout.trim();
    const binary = join(repository, 'bin', 'vireo.js');
    expect(complete([binary, 'exp'])).toBe('explain');
    expect(complete([binary, 'get', '--all'])).toBe('--all-namespaces');
    expect(complete([binary, 'status', '-n', 'local', '--state-dir', stateDirectory, 'w'])).toBe('web');
  });
});
