/**
 * What local mode runs is the union of the files applied to it, each file owning its objects, as
 * `kubectl apply` does per object: applying a file again replaces what that file declared (an
 * object removed from it is removed from local mode, its processes and router stopped);
 * `vireo local delete -f FILE` removes everything the file declared; another file's objects are
 * never touched. One object (kind, namespace, name) declared by two files is refused, naming both.
 * The files' texts are kept in `applied.json` (mode 0600: they may hold Secrets) so a restarted
 * daemon resumes all of them. See docs/adr/0013-local-daemon-ownership.md.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { writeFileAtomically } from '../../shared/atomic-file.js';
import { LocalManifestError, parseLocalManifests, type LocalManifests } from './manifest.js';

export const APPLIED_FILE = 'applied.json';
/** Where versions before applied.json kept the one applied file. */
export const LEGACY_MANIFESTS_FILE = 'manifests.yaml';

/** Applied file (absolute path, or "-" for standard input) → its text, in the order applied. */
export type AppliedSources = ReadonlyMap<string, string>;

interface AppliedFile {
  version: 1;
  files: { file: string; text: string }[];
}

export async function readAppliedSources(directory: string): Promise<AppliedSources> {
  const text = await readFile(join(directory, APPLIED_FILE), 'utf8').catch(() => undefined);
  if (text !== undefined) {
    const parsed = JSON.parse(text) as AppliedFile;
    return new Map(parsed.files.map(({ file, text: content }) => [file, content]));
  }
  const legacyPath = join(directory, LEGACY_MANIFESTS_FILE);
  const legacy = await readFile(legacyPath, 'utf8').catch(() => undefined);
  return new Map(legacy === undefined ? [] : [[legacyPath, legacy]]);
}

export async function writeAppliedSources(directory: string, sources: AppliedSources): Promise<void> {
  const file: AppliedFile = {
    version: 1,
    files: [...sources].map(([name, text]) => ({ file: name, text })),
  };
  await writeFileAtomically(join(directory, APPLIED_FILE), JSON.stringify(file), { mode: 0o600 });
}

/** Every file's objects together; refuses an object two files declare. */
export async function combineSources(sources: AppliedSources): Promise<LocalManifests> {
  const owners = new Map<string, string>();
  const problems: string[] = [];
  const combined = {
    canaries: [] as LocalManifests['canaries'][number][],
    workloads: [] as LocalManifests['workloads'][number][],
    metricTemplates: [] as LocalManifests['metricTemplates'][number][],
    alertProviders: [] as LocalManifests['alertProviders'][number][],
    secrets: new Map<string, Readonly<Record<string, string>>>(),
  };
  const claim = (file: string, kind: string, namespace: string | undefined, name: string): void => {
    const identity = `${kind}/${name} in namespace ${namespace ?? 'default'}`;
    const owner = owners.get(identity);
    if (owner !== undefined && owner !== file) {
      problems.push(
        `${file}: ${identity} is already declared by ${owner}: rename it, or remove it there first (vireo local delete -f ${owner})`,
      );
    }
    owners.set(identity, file);
  };
  for (const [file, text] of sources) {
    const manifests = await parseLocalManifests(file, text);
    for (const canary of manifests.canaries)
      claim(file, 'Canary', canary.metadata.namespace, canary.metadata.name);
    for (const workload of manifests.workloads)
      claim(file, 'Workload', workload.metadata.namespace, workload.metadata.name);
    for (const template of manifests.metricTemplates)
      claim(file, 'MetricTemplate', template.metadata.namespace, template.metadata.name);
    for (const provider of manifests.alertProviders)
      claim(file, 'AlertProvider', provider.metadata.namespace, provider.metadata.name);
    for (const key of manifests.secrets.keys()) {
      const [namespace, name = ''] = key.split('/');
      claim(file, 'Secret', namespace, name);
    }
    combined.canaries.push(...manifests.canaries);
    // Relative cwds resolve against the declaring file's own directory (docs/local/manifest.md);
    // standard input ("-") keeps them relative to the daemon's base directory.
    combined.workloads.push(
      ...(isAbsolute(file)
        ? manifests.workloads.map((workload) => ({
            ...workload,
            spec: { ...workload.spec, cwd: resolve(dirname(file), workload.spec.cwd ?? '.') },
          }))
        : manifests.workloads),
    );
    combined.metricTemplates.push(...manifests.metricTemplates);
    combined.alertProviders.push(...manifests.alertProviders);
    for (const [key, value] of manifests.secrets) combined.secrets.set(key, value);
  }
  if (problems.length > 0) throw new LocalManifestError(problems.join('\n'));
  return combined;
}
