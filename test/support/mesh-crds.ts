/**
 * Installs a mesh's own CustomResourceDefinitions on a test cluster, so every routing object a
 * router writes is validated by the mesh's own schema on a real API server. The sets and their
 * pinned Go modules are listed in tools/mesh-crds/modules.tsv; tools/fetch-mesh-crds.sh copies
 * them out of the Go module cache into .cache/mesh-crds/<set>/ (docs/testing-cluster.md).
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { crdToV1 } from './crd-v1beta1.js';
import { CRDS, eventually } from './kube.js';

const repository = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);

interface CrdObject extends KubeObject {
  spec?: { group?: string; names?: { plural?: string } };
  status?: { conditions?: { type: string; status: string }[] };
}

/** The directory holding one set's CRD files, fetched on first use (a Go module download, cached). */
export async function meshCrdDirectory(set: string): Promise<string> {
  const { stdout } = await run(join(repository, 'tools', 'fetch-mesh-crds.sh'), [set], {
    timeout: 600_000,
    maxBuffer: 1 << 20,
  });
  return stdout.trim().split('\n').at(-1) ?? '';
}

/**
 * Every CustomResourceDefinition in the YAML files (other kinds are skipped), in
 * `apiextensions.k8s.io/v1`: a v1beta1 one (SMI's) is converted with every version served.
 */
export function readCrds(files: readonly string[]): CrdObject[] {
  const crds: CrdObject[] = [];
  for (const file of files) {
    for (const document of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const object = document.toJS() as CrdObject | null;
      if (object?.kind === 'CustomResourceDefinition') crds.push(crdToV1(object) as CrdObject);
    }
  }
  return crds;
}

/**
 * Applies the CRDs of one set from tools/mesh-crds/modules.tsv (or of the YAML files given) and
 * waits until each is Established, so the API server serves the kinds when this resolves.
 */
export async function installMeshCrds(
  client: KubeClient,
  source: string | { files: readonly string[] },
): Promise<CrdObject[]> {
  let files: readonly string[];
  if (typeof source === 'string') {
    const directory = await meshCrdDirectory(source);
    files = readdirSync(directory)
      .filter((name) => name.endsWith('.yaml') || name.endsWith('.yml'))
      .map((name) => join(directory, name));
  } else {
    files = source.files;
  }
  const crds = readCrds(files);
  if (crds.length === 0) throw new Error(`no CustomResourceDefinition in ${files.join(', ')}`);
  for (const crd of crds) await client.apply(CRDS, crd);
  for (const crd of crds) {
    await eventually(
      () => client.get<CrdObject>(CRDS, undefined, crd.metadata.name ?? ''),
      (live) =>
        live?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false,
      120_000,
      `CRD ${crd.metadata.name} Established`,
    );
  }
  return crds;
}
