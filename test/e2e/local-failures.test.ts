/**
 * `vireo local apply` and `status` tell what keeps a workload from running (issue 13, items 2
 * and 3), with the built binary and real processes: a command that cannot start, a crash loop,
 * a program that ignores `$PORT`; and a mistaken first apply, corrected after `vireo local down`,
 * takes effect.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { findFreePort } from '../../src/platforms/local/supervisor.js';

const repository = join(import.meta.dirname, '..', '..');
const directories: string[] = [];

function vireo(stateDirectory: string, ...args: string[]) {
  return spawnSync(process.execPath, ['bin/vireo.js', ...args], {
    cwd: repository,
    encoding: 'utf8',
    env: { ...process.env, VIREO_STATE_DIR: stateDirectory },
    timeout: 180_000,
  });
}

afterEach(() => {
  for (const directory of directories.splice(0)) {
    vireo(directory, 'local', 'down');
    rmSync(directory, { recursive: true, force: true });
  }
});

/** The example manifest on a free port, with its Workload's command and args replaced when asked. */
function manifest(port: number, workload?: { command: string; args: string[]; readiness?: boolean }): string {
  let text = readFileSync(join(repository, 'examples', 'local', 'web.yaml'), 'utf8')
    .replace('port: 8080', `port: ${port}`)
    .replace('../../dist/', `${repository}/dist/`)
    .replace('  analysis:', '  progressDeadlineSeconds: 600\n  analysis:');
  if (workload !== undefined) {
    text = text
      .replace('command: node', `command: ${JSON.stringify(workload.command)}`)
      .replace(/args: \[.*\].*$/m, `args: ${JSON.stringify(workload.args)}`);
    if (workload.readiness === false) text = text.replace(/ {2}readiness:\n {4}httpPath: \/readyz\n/, '');
  }
  return text;
}

function setUp(): { state: string; file: string } {
  const state = mkdtempSync(join(tmpdir(), 'vireo-local-failures-e2e-'));
  directories.push(state);
  return { state, file: join(state, 'web.yaml') };
}

describe('vireo local apply and status report why a workload does not run', () => {
  it('fails for a command that cannot start, and takes the corrected file after down', async () => {
    const { state, file } = setUp();
    const port = await findFreePort();
    writeFileSync(file, manifest(port, { command: 'pyhton3-vireo-missing', args: ['server.py'] }));
    const applied = vireo(state, 'local', 'apply', '-f', file);
    expect(applied.status, applied.stderr).toBe(1);
    expect(applied.stderr).toContain(
      'web.local failed: workload "local.web-primary": cannot start command "pyhton3-vireo-missing": not found (ENOENT)',
    );
    const status = vireo(state, 'local', 'status');
    expect(status.stdout).toContain('web.local: problem: workload "local.web-primary": cannot start command');

    expect(vireo(state, 'local', 'down').status).toBe(0);
    writeFileSync(file, manifest(port));
    const corrected = vireo(state, 'local', 'apply', '-f', file);
    expect(corrected.status, corrected.stderr).toBe(0);
    expect(corrected.stdout).toMatch(/^CANARY\s+PHASE\s+WEIGHT\s+FAILED\s+PRIMARY\s+CANARY\s+URL/);
    expect(corrected.stdout).toMatch(/web\.local\s+Initialized\s+0%\s+0\s+2\/2 [0-9a-f]{8}/);
    const answer = await fetch(`http://127.0.0.1:${port}/version`);
    expect(await answer.json()).toEqual({ version: '1.0.0' });
  });

  it('fails for a crash loop, quoting what the program last wrote', async () => {
    const { state, file } = setUp();
    const port = await findFreePort();
    writeFileSync(
      file,
      manifest(port, {
        command: process.execPath,
        args: ['-e', "console.error('config.toml: no such file'); process.exit(3)"],
      }),
    );
    const applied = vireo(state, 'local', 'apply', '-f', file);
    expect(applied.status, applied.stderr).toBe(1);
    expect(applied.stderr).toMatch(
      /web\.local failed: workload "local\.web-primary": replica \d exited with code 3/,
    );
    expect(applied.stderr).toContain('its last output: config.toml: no such file');
  });

  it('fails at the timeout for a program that ignores $PORT, saying so', async () => {
    const { state, file } = setUp();
    const port = await findFreePort();
    writeFileSync(
      file,
      manifest(port, {
        command: process.execPath,
        args: ['-e', `require('node:http').createServer((q, a) => a.end('hi')).listen(0, '127.0.0.1')`],
        readiness: false,
      }),
    );
    const applied = vireo(state, 'local', 'apply', '-f', file, '--timeout', '10s');
    expect(applied.status, applied.stderr).toBe(1);
    expect(applied.stderr).toContain('web.local not running after 10s');
    expect(applied.stderr).toContain('does the program listen on $PORT?');
  });

  it("resolves relative paths against each manifest's own directory (item 5)", async () => {
    const { state } = setUp();
    const ports = [await findFreePort(), await findFreePort()];
    const demo = pathToFileURL(join(repository, 'dist', 'platforms', 'local', 'demo-service-main.js')).href;
    // Two files in two directories, each declaring its own service (each file owns its objects).
    const files = ['web', 'api'].map((name, index) => {
      const directory = join(state, name);
      mkdirSync(directory);
      // A program next to its manifest, found through the Workload's default cwd (the manifest's directory).
      writeFileSync(join(directory, 'server.mjs'), `await import(${JSON.stringify(demo)});\n`);
      const file = join(directory, 'service.yaml');
      writeFileSync(
        file,
        manifest(ports[index]!, { command: process.execPath, args: ['server.mjs'] })
          .replaceAll('name: web', `name: ${name}`)
          .replace("VERSION: '1.0.0'", `VERSION: '${index + 1}.0.0'`),
      );
      return { directory, file };
    });
    const first = vireo(state, 'local', 'apply', '-f', files[0]!.file);
    expect(first.status, first.stderr).toBe(0);
    // Only the second directory has the program now: the second file must run its own.
    rmSync(join(files[0]!.directory, 'server.mjs'));
    const second = vireo(state, 'local', 'apply', '-f', files[1]!.file);
    expect(second.status, second.stderr).toBe(0);
    const canaries = JSON.parse(vireo(state, 'local', 'status', '-o', 'json').stdout) as {
      canary: string;
      problems: string[];
      primaryReplicas: string;
    }[];
    expect(canaries.find((canary) => canary.canary === 'api.local')).toMatchObject({
      problems: [],
      primaryReplicas: '2/2',
    });
    const answer = await fetch(`http://127.0.0.1:${ports[1]}/version`);
    expect(await answer.json()).toEqual({ version: '2.0.0' });
  });
});
