/**
 * What `vireo --version` reports: the package version, the git commit the build came from and the
 * Node.js that runs it. The commit is written into dist/build-info.json by `npm run build`
 * (write-build-info.ts), from VIREO_COMMIT when set (the container build passes it, having no .git)
 * or from `git rev-parse HEAD`; where neither is known it is `unknown`. See docs/install.md.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VireoError } from './errors.js';
import { VERSION } from './version.js';

export const UNKNOWN_COMMIT = 'unknown';
export const BUILD_INFO_FILE = 'build-info.json';

/** The compiled dist/ directory (this module compiles to dist/shared/build-info.js). */
const DIST_DIRECTORY = join(import.meta.dirname, '..');

export interface BuildInfo {
  readonly version: string;
  readonly commit: string;
  readonly node: string;
}

/** A VIREO_COMMIT that is not a commit id: the build stops rather than embed it. */
export class BuildInfoError extends VireoError {
  constructor(message: string) {
    super('E_BUILD_INFO', message);
  }
}

const COMMIT_PATTERN = /^[0-9a-f]{7,64}$/;

/** The commit to embed: VIREO_COMMIT when set and not empty, else the git HEAD of `repository`. */
export function commitForBuild(env: NodeJS.ProcessEnv, repository: string): string {
  const given = env['VIREO_COMMIT'];
  if (given !== undefined && given !== '') {
    const commit = given.trim().toLowerCase();
    if (commit === UNKNOWN_COMMIT || COMMIT_PATTERN.test(commit)) return commit;
    throw new BuildInfoError(
      `VIREO_COMMIT must be a git commit id (7 to 64 hex digits, e.g. the output of \`git rev-parse HEAD\`) ` +
        `or "unknown"; got ${JSON.stringify(given.slice(0, 80))}`,
    );
  }
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: repository,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    }).trim();
    return COMMIT_PATTERN.test(head) ? head : UNKNOWN_COMMIT;
  } catch {
    // No git, or not a checkout (a source tarball, a container build without .git).
    return UNKNOWN_COMMIT;
  }
}

export function writeBuildInfo(commit: string, distDirectory = DIST_DIRECTORY): void {
  writeFileSync(join(distDirectory, BUILD_INFO_FILE), `${JSON.stringify({ commit })}\n`);
}

/** The build's commit, or `unknown` when the file is missing or unreadable (e.g. running from src/). */
export function readBuildInfo(distDirectory = DIST_DIRECTORY, nodeVersion = process.version): BuildInfo {
  let commit = UNKNOWN_COMMIT;
  try {
    const parsed = JSON.parse(readFileSync(join(distDirectory, BUILD_INFO_FILE), 'utf8')) as unknown;
    const value = (parsed as { commit?: unknown } | null)?.commit;
    if (typeof value === 'string' && (value === UNKNOWN_COMMIT || COMMIT_PATTERN.test(value))) commit = value;
  } catch {
    // Missing or damaged: report it as unknown rather than fail `--version`.
  }
  return { version: VERSION, commit, node: nodeVersion };
}

/** One line, e.g. `vireo 0.1.0 (commit 7d22cec…, node v20.20.2)`. */
export function formatVersion(info: BuildInfo): string {
  return `vireo ${info.version} (commit ${info.commit}, node ${info.node})`;
}
