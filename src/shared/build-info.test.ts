import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BUILD_INFO_FILE,
  commitForBuild,
  formatVersion,
  readBuildInfo,
  UNKNOWN_COMMIT,
  writeBuildInfo,
} from './build-info.js';
import { VERSION } from './version.js';

const repository = join(import.meta.dirname, '..', '..');
const scratch = (): string => mkdtempSync(join(tmpdir(), 'vireo-build-info-'));

describe('commitForBuild', () => {
  it('takes VIREO_COMMIT when set, lower-cased', () => {
    expect(commitForBuild({ VIREO_COMMIT: 'ABCDEF1234567' }, scratch())).toBe('abcdef1234567');
    expect(commitForBuild({ VIREO_COMMIT: 'unknown' }, repository)).toBe(UNKNOWN_COMMIT);
  });

  it('refuses a VIREO_COMMIT that is not a commit id, naming the variable and the expected form', () => {
    expect(() => commitForBuild({ VIREO_COMMIT: 'main; rm -rf /' }, repository)).toThrow(
      /VIREO_COMMIT must be a git commit id \(7 to 64 hex digits/,
    );
    expect(() => commitForBuild({ VIREO_COMMIT: 'abc' }, repository)).toThrow(
      expect.objectContaining({ code: 'E_BUILD_INFO' }),
    );
  });

  it('falls back to the git HEAD of the checkout, and to unknown outside one', () => {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repository, encoding: 'utf8' }).trim();
    expect(commitForBuild({}, repository)).toBe(head);
    expect(commitForBuild({ VIREO_COMMIT: '' }, repository)).toBe(head);
    expect(commitForBuild({}, scratch())).toBe(UNKNOWN_COMMIT);
  });
});

describe('build-info.json', () => {
  it('round-trips the commit and reports the package version and the given Node version', () => {
    const dist = scratch();
    writeBuildInfo('0123456789abcdef0123456789abcdef01234567', dist);
    expect(JSON.parse(readFileSync(join(dist, BUILD_INFO_FILE), 'utf8'))).toEqual({
      commit: '0123456789abcdef0123456789abcdef01234567',
    });
    const info = readBuildInfo(dist, 'v20.20.2');
    expect(info).toEqual({
      version: VERSION,
      commit: '0123456789abcdef0123456789abcdef01234567',
      node: 'v20.20.2',
    });
    expect(formatVersion(info)).toBe(
      `vireo ${VERSION} (commit 0123456789abcdef0123456789abcdef01234567, node v20.20.2)`,
    );
  });

  it('says unknown when the file is missing or holds something else than a commit', () => {
    const dist = scratch();
    expect(readBuildInfo(dist).commit).toBe(UNKNOWN_COMMIT);
    writeFileSync(join(dist, BUILD_INFO_FILE), '{"commit": "\\u001b[31mred"}');
    expect(readBuildInfo(dist).commit).toBe(UNKNOWN_COMMIT);
    writeFileSync(join(dist, BUILD_INFO_FILE), 'not json');
    expect(readBuildInfo(dist).commit).toBe(UNKNOWN_COMMIT);
  });
});
