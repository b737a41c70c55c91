/**
 * Building blocks for the flagger.app/v1beta1 schemas. Every schema here is plain JSON Schema
 * (TypeBox), from which we derive the TypeScript types, the validator and the CRDs.
 *
 * Vocabulary beyond JSON Schema:
 * - `x-kubernetes-*` keywords go into the CRD unchanged.
 * - `x-vireo-*` keywords drive `vireo validate` and are stripped from the CRD:
 *   `x-vireo-integer` (Flagger decodes the field into a Go int, so 2.5 fails at runtime although
 *   the CRD's `type: number` lets it in), `x-vireo-hint` (the message for a pattern mismatch),
 *   `x-vireo-one-of` (the message when an object matches none or several `oneOf` branches).
 */
import { Type, type Static, type TSchema, type SchemaOptions } from '@sinclair/typebox';

export const CLOSED = { additionalProperties: false } as const;

/** A string-keyed map. TypeBox's Record emits `patternProperties`, which CRDs do not accept. */
export function MapOf<T extends TSchema>(value: T, options: SchemaOptions = {}) {
  return Type.Unsafe<Record<string, Static<T>>>({ ...options, type: 'object', additionalProperties: value });
}

export const StringMap = (description?: string) =>
  MapOf(Type.String(), description === undefined ? {} : { description });

/** A Kubernetes IntOrString, in the only shape a structural CRD schema allows for it. */
export function IntOrString(options: SchemaOptions = {}) {
  return Type.Unsafe<number | string>({
    ...options,
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
  });
}

/** A JSON number that Flagger reads into an integer field. */
export function IntegerNumber(options: SchemaOptions = {}) {
  return Type.Number({ ...options, 'x-vireo-integer': true });
}

/**
 * Flagger's duration fields carry the pattern `^[0-9]+(m|s)` (unanchored at the end, so "1m30s"
 * passes). We keep the same pattern in the CRD so that we accept exactly what Flagger accepts;
 * `vireo validate` then parses the whole value (see api/duration.ts).
 */
export function FlaggerDuration(options: SchemaOptions = {}) {
  return Type.String({
    ...options,
    pattern: '^[0-9]+(m|s)',
    'x-vireo-hint': 'must be a duration such as 30s, 1m or 1m30s',
  });
}

/** Istio StringMatch: at most one of exact, prefix, regex. */
export function IstioStringMatch(description?: string) {
  return Type.Object(
    {
      exact: Type.Optional(Type.String({ format: 'string' })),
      prefix: Type.Optional(Type.String({ format: 'string' })),
      regex: Type.Optional(Type.String({ format: 'string' })),
    },
    {
      ...CLOSED,
      ...(description === undefined ? {} : { description }),
      oneOf: [
        { not: { anyOf: [{ required: ['exact'] }, { required: ['prefix'] }, { required: ['regex'] }] } },
        { required: ['exact'] },
        { required: ['prefix'] },
        { required: ['regex'] },
      ],
      'x-vireo-one-of': 'set at most one of exact, prefix or regex',
    },
  );
}

export const ObjectMeta = Type.Object(
  {
    name: Type.String({ description: 'Object name, unique in its namespace.' }),
    namespace: Type.Optional(Type.String()),
    labels: Type.Optional(StringMap()),
    annotations: Type.Optional(StringMap()),
  },
  // Metadata belongs to Kubernetes: uids, managedFields and the like are all legitimate.
  { additionalProperties: true },
);

const objectReferenceFields = (kinds: readonly string[]) => ({
  apiVersion: Type.String({ description: 'API version of the referent.' }),
  kind: Enum(kinds, { description: `Kind of the referent: ${kinds.join(', ')}.` }),
  name: Type.String({ description: 'Name of the referent.' }),
});

/** A reference to an object in the canary's namespace (targetRef, ingressRef, …). */
export const CrossNamespaceObjectReference = (kinds: readonly string[]) =>
  Type.Object(objectReferenceFields(kinds), CLOSED);

/** A reference that may name another namespace (upstreamRef). */
export const NamespacedObjectReference = (kinds: readonly string[]) =>
  Type.Object({ ...objectReferenceFields(kinds), namespace: Type.Optional(Type.String()) }, CLOSED);

export const LocalObjectReference = (description: string) =>
  Type.Object({ name: Type.String({ description: 'Name of the referent.' }) }, { ...CLOSED, description });

export const NamespacedReference = (description: string) =>
  Type.Object(
    {
      name: Type.String({ description: 'Name of the referent.' }),
      namespace: Type.Optional(
        Type.String({ description: "Namespace of the referent; defaults to the Canary's namespace." }),
      ),
    },
    { ...CLOSED, description },
  );

export const Enum = <const T extends readonly string[]>(values: T, options: SchemaOptions = {}) =>
  Type.Unsafe<T[number]>({ ...options, type: 'string', enum: [...values] });
