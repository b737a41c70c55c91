/**
 * The golden outputs of `vireo simulate`: every Canary of every example and test manifest, as text
 * and as JSON, with every check passing and with checks failing from 0s and from 2m. Recorded by
 * test/support/record-simulate-golden.ts, compared by test/unit/simulate-golden.test.ts, so that
 * a change of what simulate prints is always a visible, named change.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { runCli } from '../../src/cli/main.js';
import { fakeIo } from './fake-io.js';

export const repository = join(import.meta.dirname, '..', '..');
export const goldenDirectory = join(repository, 'test', 'fixtures', 'simulate-golden');

/** Where manifests live: the examples and every fixture folder (the golden outputs are not YAML). */
const MANIFEST_ROOTS = ['examples', join('test', 'fixtures')];

const VARIANTS: readonly { readonly suffix: string; readonly args: readonly string[] }[] = [
  { suffix: 'json', args: ['--json'] },
  { suffix: 'text', args: [] },
  { suffix: 'fail-from-2m.json', args: ['--json', '--fail-from', '2m'] },
  { suffix: 'fail-from-0s.text', args: ['--fail-from', '0s'] },
];

export interface GoldenCase {
  /** Relative to test/fixtures/simulate-golden/. */
  readonly output: string;
  /** The manifest, relative to the repository. */
  readonly manifest: string;
  readonly canary: string;
  readonly args: readonly string[];
}

function yamlFiles(directory: string): string[] {
  return readdirSync(directory)
    .sort()
    .flatMap((entry) => {
      const path = join(directory, entry);
      if (statSync(path).isDirectory()) return yamlFiles(path);
      return /\.ya?ml$/.test(entry) ? [path] : [];
    });
}

function canaryNames(path: string): string[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((document) => {
      try {
        return document.toJS() as { kind?: unknown; metadata?: { name?: unknown } } | null;
      } catch {
        return null;
      }
    })
    .filter((object) => object?.kind === 'Canary')
    .map((object) => {
      const name = object?.metadata?.name;
      return typeof name === 'string' ? name : '';
    });
}

/** Every (manifest, Canary, variant), in a stable order. */
export function goldenCases(): GoldenCase[] {
  return MANIFEST_ROOTS.flatMap((root) => yamlFiles(join(repository, root))).flatMap((path) => {
    const manifest = relative(repository, path).split(sep).join('/');
    const names = canaryNames(path);
    return names.flatMap((canary, index) =>
      VARIANTS.map((variant) => ({
        output: `${manifest.replace(/\.ya?ml$/, '')}/${index}-${canary || 'unnamed'}.${variant.suffix}`,
        manifest,
        canary,
        // A file with several Canaries needs --name; one with a single Canary is simulated as a user would.
        args: [...variant.args, ...(names.length > 1 ? ['--name', canary] : [])],
      })),
    );
  });
}

/** What the user sees: the exit status, standard output and standard error. */
export async function runGoldenCase(golden: GoldenCase): Promise<string> {
  const { io, stdout, stderr } = fakeIo();
  const status = await runCli(
    ['node', 'vireo', 'simulate', ...golden.args, join(repository, golden.manifest)],
    io,
  );
  // Paths in messages are the repository's, not this checkout's.
  const local = (text: string) => text.split(`${repository}/`).join('');
  return `exit ${status}\n--- stdout\n${local(stdout())}--- stderr\n${local(stderr())}`;
}
