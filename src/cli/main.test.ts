import { mkdtempSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './main.js';
import { VERSION } from '../shared/version.js';
import { fakeIo } from '../../test/support/fake-io.js';

const repository = join(import.meta.dirname, '..', '..');
const seed004 = join(repository, 'test', 'fixtures', 'seeds', '004');
const validCanary = `apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
spec:
  provider: kubernetes
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis: {interval: 1m, threshold: 2, iterations: 5}
`;

describe('vireo validate', () => {
  it('exits 1 and prints file:line:col: Kind/name path: message for seed 004', async () => {
    const { io, stdout } = fakeIo();
    expect(await runCli(['node', 'vireo', 'validate', seed004], io)).toBe(1);
    expect(stdout()).toContain(
      `${join(seed004, 'podinfo-canary.yaml')}:51:9: Canary/podinfo spec.analysis.metrics[1].thresholdRange.interval: unknown field "interval"`,
    );
    expect(stdout()).toMatch(/invalid: 3 files, 2 objects checked, 1 other skipped; 2 errors, 0 warnings\n$/);
  });

  it('exits 0 for valid input read from standard input', async () => {
    const { io, stdout } = fakeIo(validCanary);
    expect(await runCli(['node', 'vireo', 'validate', '-'], io)).toBe(0);
    expect(stdout()).toBe('valid: 1 file, 1 object checked, 0 other skipped; 0 errors, 0 warnings\n');
  });

  it('exits 2 for a missing file and for YAML that does not parse, saying where', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'vireo-validate-'));
    const broken = join(directory, 'broken.yaml');
    writeFileSync(broken, 'kind: Canary\nspec:\n  analysis: [1, 2\n');
    const { io, stdout } = fakeIo();
    expect(await runCli(['node', 'vireo', 'validate', join(directory, 'absent.yaml'), broken], io)).toBe(2);
    expect(stdout()).toContain(`${join(directory, 'absent.yaml')}: cannot read: no such file or directory`);
    expect(stdout()).toMatch(new RegExp(`${broken.replace(/[/.]/g, '\\$&')}:\\d+:\\d+: cannot read: `));
  });

  it('exits 2 at once for a file over 16 MiB, saying so, instead of running out of memory', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'vireo-validate-'));
    const huge = join(directory, 'huge.yaml');
    writeFileSync(huge, `${validCanary}---\n${'# padding\n'.repeat(1_700_000)}`);
    const { io, stdout } = fakeIo();
    expect(await runCli(['node', 'vireo', 'validate', huge], io)).toBe(2);
    expect(stdout()).toContain(
      `${huge}: cannot read: is 16.2 MiB: manifests over 16.0 MiB are refused; split the file`,
    );
  });

  it('reads UTF-16 with a byte order mark, and refuses UTF-16 without one and Latin-1 with a clear reason', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'vireo-validate-'));
    const invalid = validCanary.replace('threshold: 2', 'threshold: 2, maxWeigth: 50');
    const withBom = join(directory, 'utf16-bom.yaml');
    writeFileSync(withBom, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(invalid, 'utf16le')]));
    const bigEndian = join(directory, 'utf16be-bom.yaml');
    writeFileSync(bigEndian, Buffer.from(Buffer.from(`\ufeff${invalid}`, 'utf16le')).swap16());
    const { io, stdout } = fakeIo();
    expect(await runCli(['node', 'vireo', 'validate', withBom, bigEndian], io)).toBe(1);
    expect(stdout()).toContain(`${withBom}:9:42: Canary/podinfo spec.analysis.maxWeigth: unknown field`);
    expect(stdout()).toContain(`${bigEndian}:9:42: Canary/podinfo spec.analysis.maxWeigth: unknown field`);
    expect(stdout()).toContain('2 files, 2 objects checked');

    const noBom = join(directory, 'utf16.yaml');
    writeFileSync(noBom, Buffer.from(validCanary, 'utf16le'));
    const latin1 = join(directory, 'latin1.yaml');
    writeFileSync(latin1, Buffer.from(`# caf\u00e9\n${validCanary}`, 'latin1'));
    const second = fakeIo();
    expect(await runCli(['node', 'vireo', 'validate', noBom, latin1], second.io)).toBe(2);
    expect(second.stdout()).toContain(
      `${noBom}: cannot read: holds NUL bytes (at byte 1): this is UTF-16 without a byte order mark, or not a text file; convert it with iconv -f UTF-16 -t UTF-8`,
    );
    expect(second.stdout()).toContain(
      `${latin1}: cannot read: is not valid UTF-8 (at byte 5): save it as UTF-8, or convert it with iconv -f LATIN1 -t UTF-8`,
    );
    expect(second.stdout()).not.toContain('valid: ');
  });

  it('walks directories recursively and counts other kinds as skipped', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'vireo-validate-'));
    mkdirSync(join(directory, 'nested'));
    writeFileSync(join(directory, 'nested', 'canary.yml'), validCanary);
    writeFileSync(
      join(directory, 'deploy.yaml'),
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n',
    );
    writeFileSync(join(directory, 'notes.txt'), 'not a manifest');
    const { io, stdout } = fakeIo();
    expect(await runCli(['node', 'vireo', 'validate', directory], io)).toBe(0);
    expect(stdout()).toContain('2 files, 1 object checked, 1 other skipped');
  });

  it('prints the documented JSON shape with --format json', async () => {
    const { io, stdout } = fakeIo();
    await runCli(['node', 'vireo', 'validate', '--format', 'json', seed004], io);
    const report = JSON.parse(stdout()) as {
      files: {
        file: string;
        objects: { kind: string; name: string; errors: unknown[]; warnings: unknown[] }[];
      }[];
    };
    const canaryFile = report.files.find((file) => file.file.endsWith('podinfo-canary.yaml'))!;
    expect(canaryFile.objects).toEqual([
      expect.objectContaining({
        kind: 'Canary',
        name: 'podinfo',
        errors: [
          expect.objectContaining({
            path: 'spec.analysis.metrics[0].thresholdRange.interval',
            line: 45,
            column: 9,
            message: expect.any(String),
          }),
          expect.objectContaining({
            path: 'spec.analysis.metrics[1].thresholdRange.interval',
            line: 51,
            column: 9,
          }),
        ],
        warnings: [],
      }),
    ]);
  });

  it('rejects an unknown --format with a usage error naming the choices', async () => {
    const { io, stderr } = fakeIo();
    expect(await runCli(['node', 'vireo', 'validate', '--format', 'xml', seed004], io)).toBe(2);
    expect(stderr()).toMatch(/Allowed choices are text, json/);
  });
});

describe('vireo --version', () => {
  it('prints the package version, the commit (unknown when run from the sources) and the Node version', async () => {
    const { io, stdout } = fakeIo();
    expect(await runCli(['node', 'vireo', '--version'], io)).toBe(0);
    const manifest = JSON.parse(readFileSync(join(repository, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(stdout().trim()).toBe(`vireo ${manifest.version} (commit unknown, node ${process.version})`);
    expect(VERSION).toBe(manifest.version);
  });
});

describe('vireo simulate', () => {
  const example = join(repository, 'examples', 'podinfo-canary.yaml');

  it('prints the JSON timeline with the documented fields', async () => {
    const { io, stdout, stderr } = fakeIo();
    expect(await runCli(['node', 'vireo', 'simulate', '--json', example], io)).toBe(0);
    const timeline = JSON.parse(stdout()) as Record<string, unknown> & { steps: Record<string, unknown>[] };
    expect(timeline).toMatchObject({
      strategy: 'canary',
      promotionStartsAt: 240,
      promotedAt: 360,
      rollbackAfter: 300,
    });
    expect(timeline.steps.map((step) => step['canaryWeight'])).toEqual([0, 20, 40, 60, 60, 0, 0]);
    expect(Object.keys(timeline.steps[1]!)).toEqual(
      expect.arrayContaining(['t', 'phase', 'canaryWeight', 'primaryWeight', 'iteration', 'webhooks']),
    );
    expect(stderr()).toBe('');
  });

  it('prints names from the input with control characters escaped, in the timeline and in errors', async () => {
    const text = readFileSync(example, 'utf8').replace('name: load-test', 'name: "load\\e[2Jtest"');
    const file = join(mkdtempSync(join(tmpdir(), 'vireo-simulate-')), 'canary.yaml');
    writeFileSync(file, text);
    const timeline = fakeIo();
    expect(await runCli(['node', 'vireo', 'simulate', file], timeline.io)).toBe(0);
    expect(timeline.stdout()).toContain('rollout load\\x1b[2Jtest;');
    expect(timeline.stdout()).not.toContain('\u001b');
    const refused = fakeIo();
    expect(
      await runCli(['node', 'vireo', 'simulate', '--name', 'x\u001b]0;pwned\u0007', file], refused.io),
    ).toBe(2);
    expect(refused.stderr()).toContain('named x\\x1b]0;pwned\\x07');
    // eslint-disable-next-line no-control-regex
    expect(refused.stderr()).not.toMatch(/[\u0007\u001b]/);
  });

  it('prints warnings on standard error, so that the JSON on standard output stays parseable', async () => {
    const overshooting = join(mkdtempSync(join(tmpdir(), 'vireo-simulate-')), 'canary.yaml');
    writeFileSync(overshooting, readFileSync(example, 'utf8').replace('maxWeight: 60', 'maxWeight: 50'));
    const { io, stdout, stderr } = fakeIo();
    expect(await runCli(['node', 'vireo', 'simulate', '--json', overshooting], io)).toBe(0);
    expect(() => JSON.parse(stdout()) as unknown).not.toThrow();
    expect(stderr()).toContain('the last step overshoots to 60%');
  });

  it('refuses an invalid canary and shows why', async () => {
    const { io, stderr } = fakeIo(validCanary.replace('iterations: 5', 'iterations: 5, stepWeight: 10'));
    expect(await runCli(['node', 'vireo', 'simulate', '-'], io)).toBe(1);
    expect(stderr()).toContain('iterations cannot be combined with stepWeight');
    expect(stderr()).toContain('fix the problems above first');
  });

  it('asks which canary when a file holds several', async () => {
    const second = validCanary
      .replace('name: podinfo\n', 'name: frontend\n')
      .replace('name: podinfo}', 'name: frontend}');
    const { io, stderr } = fakeIo(`${validCanary}---\n${second}`);
    expect(await runCli(['node', 'vireo', 'simulate', '-'], io)).toBe(2);
    expect(stderr()).toContain('holds several Canaries (podinfo, frontend): choose one with --name');
  });
});

describe('vireo demo', () => {
  // The live run needs the built demo service: test/e2e/demo.test.ts runs it.
  it("refuses an interval below the engine's 10 s minimum, naming the flag", async () => {
    const { io, stderr } = fakeIo();
    expect(await runCli(['node', 'vireo', 'demo', '--interval', '5s'], io)).toBe(2);
    expect(stderr()).toContain('--interval "5s": use a duration of at least 10s');
  });
});
