/**
 * `vireo --version` on the built binary: the version from package.json, the commit `npm run build`
 * embedded (the checkout's HEAD) and the Node version that runs it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const repository = join(import.meta.dirname, '..', '..');

describe('vireo --version (built)', () => {
  it('prints the package version, the git commit of the build and the Node version', () => {
    const { version } = JSON.parse(readFileSync(join(repository, 'package.json'), 'utf8')) as {
      version: string;
    };
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repository, encoding: 'utf8' }).trim();
    const embedded = (
      JSON.parse(readFileSync(join(repository, 'dist', 'build-info.json'), 'utf8')) as { commit: string }
    ).commit;
    // The build embeds the HEAD it was built at; a commit made after `npm run build` would differ.
    expect(embedded, 'dist/build-info.json is stale: run npm run build').toBe(head);
    const result = spawnSync(process.execPath, [join(repository, 'bin', 'vireo.js'), '--version'], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`vireo ${version} (commit ${head}, node ${process.version})\n`);
  });
});
