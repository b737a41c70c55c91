/**
 * Kubernetes manifests in a YAML or JSON text: every document, with `*List` kinds unpacked, as
 * plain objects. Documents that are not objects (comments only, scalars) are skipped.
 */
import { parseAllDocuments } from 'yaml';

export type Manifest = Record<string, unknown>;

export function manifestsIn(text: string): Manifest[] {
  const objects: Manifest[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw new Error(document.errors[0]?.message ?? 'invalid YAML');
    const value: unknown = document.toJS({ maxAliasCount: 100 });
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
