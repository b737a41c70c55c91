/**
 * Turns our validation schemas into Kubernetes structural schemas (KEP-2335). The validation
 * schemas are closed (`additionalProperties: false`) so that `vireo validate` reports unknown
 * fields; a CRD must leave objects open (the API server prunes unknown fields instead) and may not
 * carry our `x-vireo-*` annotations.
 */

type JsonObject = { [key: string]: JsonValue };
type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function toStructuralSchema(schema: unknown): JsonObject {
  const converted = convert(JSON.parse(JSON.stringify(schema)) as JsonValue);
  if (!isObject(converted)) throw new TypeError('schema root must be an object');
  return converted;
}

function convert(node: JsonValue): JsonValue {
  if (Array.isArray(node)) return node.map(convert);
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  // The CRD form of IntOrString is the bare marker; our `anyOf` exists for the validator only.
  const intOrString = node['x-kubernetes-int-or-string'] === true;
  for (const [key, value] of Object.entries(node)) {
    if (intOrString && key === 'anyOf') continue;
    if (key.startsWith('x-vireo-') || key === '$id') continue;
    if (key === 'additionalProperties' && value === false) continue;
    if (key === 'const') {
      // Literals (apiVersion, kind) are checked by the API server itself; the CRD only types them.
      continue;
    }
    out[key] = convert(value);
  }
  return out;
}
