/**
 * Kubernetes manifests in a YAML or JSON text: every document, with `*List` kinds unpacked, as
 * plain objects. Documents that are not objects (comments only, scalars) are skipped.
 */
import { parseAllDocuments } from 'yaml';
import { UnreadableInputError } from './errors.js';
import { describeYamlError, formatYamlProblem } from './yaml-errors.js';

export type Manifest = Record<string, unknown>;

/**
 * Throws UnreadableInputError on a YAML error, with a message that quotes no source text: the
 * text may be a Secret (docs/cli.md, "Secrets").
 */
export function manifestsIn(text: string): Manifest[] {
  const objects: Manifest[] = [];
  for (const document of parseAllDocuments(text)) {
    const syntaxError = document.errors[0];
    if (syntaxError !== undefined) {
      throw new UnreadableInputError(formatYamlProblem(describeYamlError(syntaxError, text)));
    }
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: 100 });
    } catch (cause) {
      throw new UnreadableInputError(formatYamlProblem(describeYamlError(cause, text)));
    }
    if (!isRecord(value)) continue;
    if (
      typeof value['kind'] === 'string' &&
      value['kind'].endsWith('List') &&
      Array.isArray(value['items'])
    ) {
      objects.push(...(value['items'] as unknown[]).filter(isRecord));
    } else {
      objects.push(value);
    }
  }
  return objects;
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `metadata.name` and `metadata.namespace` of a manifest, when they are strings. */
export function identityOf(manifest: Manifest): { name?: string; namespace?: string } {
  const metadata = isRecord(manifest['metadata']) ? manifest['metadata'] : {};
  return {
    ...(typeof metadata['name'] === 'string' ? { name: metadata['name'] } : {}),
    ...(typeof metadata['namespace'] === 'string' ? { namespace: metadata['namespace'] } : {}),
  };
}
