/**
 * One name and one version for the image everywhere a user meets it: the Dockerfile's build
 * command and labels, the README and docs/install.md, and the image kustomize deploys. The
 * Dockerfile itself follows docs/adr/0022-container-image.md (public Node 20 base, non-root, no
 * HEALTHCHECK, tini as PID 1).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const repository = join(import.meta.dirname, '..', '..');
const read = (path: string): string => readFileSync(join(repository, path), 'utf8');
const manifest = JSON.parse(read('package.json')) as { version: string; engines: { node: string } };
const IMAGE = `ghcr.io/vireo-dev/vireo:${manifest.version}`;
const BUILD = `docker build -t ${IMAGE} --build-arg VIREO_COMMIT="$(git rev-parse HEAD)" .`;
const dockerfile = read('Dockerfile');

describe('the image name and version', () => {
  it('kustomize/base deploys the image the Dockerfile builds, at the package version', () => {
    const deployment = parseAllDocuments(read('kustomize/base/deployment.yaml'))[0]!.toJS() as {
      spec: { template: { spec: { containers: { image: string }[] } } };
    };
    expect(deployment.spec.template.spec.containers[0]!.image).toBe(IMAGE);
  });

  it('the Dockerfile, the README and docs/install.md give the same build command', () => {
    expect(dockerfile).toContain(BUILD);
    expect(read('README.md')).toContain(BUILD);
    expect(read('docs/install.md')).toContain(BUILD);
  });

  it("the Dockerfile's version label defaults to the package version (the build checks it again)", () => {
    expect(dockerfile).toMatch(
      new RegExp(`^ARG VIREO_VERSION=${manifest.version.replaceAll('.', '\\.')}$`, 'm'),
    );
    expect(dockerfile).toContain('org.opencontainers.image.version="${VIREO_VERSION}"');
    expect(dockerfile).toContain('org.opencontainers.image.revision="${VIREO_COMMIT}"');
  });
});

describe('the Dockerfile', () => {
  it('builds on the public Node image of the major version package.json requires', () => {
    const major = /^>=(\d+)\./.exec(manifest.engines.node)?.[1];
    expect(dockerfile).toMatch(
      new RegExp(`^ARG NODE_IMAGE=docker\\.io/library/node:${major}-bookworm-slim$`, 'm'),
    );
  });

  it('runs as a numeric non-root user under tini, with no HEALTHCHECK', () => {
    expect(dockerfile).toMatch(/^USER 10001:10001$/m);
    expect(dockerfile).toMatch(
      /^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node", "--max-semi-space-size=4", "\/app\/bin\/vireo\.js"\]$/m,
    );
    expect(dockerfile).not.toMatch(/^HEALTHCHECK/m);
  });
});
