/** Navigation in our JSON Schemas by data path (properties, array items, map values). */
import type { FieldPath } from './path.js';

export type JsonSchema = Record<string, unknown>;

function asSchema(value: unknown): JsonSchema | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as JsonSchema)
    : undefined;
}

export function schemaAt(root: JsonSchema, path: FieldPath): JsonSchema | undefined {
  let node: JsonSchema | undefined = root;
  for (const segment of path) {
    if (node === undefined) return undefined;
    if (typeof segment === 'number') {
      node = asSchema(node['items']);
      continue;
    }
    const property = asSchema(asSchema(node['properties'])?.[segment]);
    node = property ?? asSchema(node['additionalProperties']);
  }
  return node;
}

export function propertyNames(schema: JsonSchema | undefined): string[] {
  return Object.keys(asSchema(schema?.['properties']) ?? {});
}

/** Resolves ajv's schemaPath ("#/properties/spec/oneOf") inside the root schema. */
export function schemaAtPointer(root: JsonSchema, pointer: string): JsonSchema | undefined {
  let node: unknown = root;
  for (const raw of pointer.replace(/^#\/?/, '').split('/')) {
    if (raw === '') continue;
    const key = decodeURIComponent(raw.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return asSchema(node);
}
