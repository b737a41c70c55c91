/**
 * Converts a CustomResourceDefinition written for `apiextensions.k8s.io/v1beta1` (removed in
 * Kubernetes 1.22) to `apiextensions.k8s.io/v1`, so a mesh that still ships its CRDs that way (SMI's
 * TrafficSplit, docs/testing-cluster.md) can be installed on the test cluster. Every version is
 * served: the routers write the older versions that such files list as not served.
 *
 * The v1 rules applied: the schema, printer columns and subresources move into each version;
 * `JSONPath` becomes `jsonPath`; the schema becomes structural (an object with properties gets
 * `type: object`); unknown fields are pruned, as for any v1 CRD.
 */
import type { KubeObject } from '../../src/platforms/kubernetes/client.js';

type Schema = Record<string, unknown>;

interface V1beta1Version {
  name: string;
  served?: boolean;
  storage?: boolean;
  schema?: { openAPIV3Schema?: Schema };
  additionalPrinterColumns?: Record<string, unknown>[];
  subresources?: unknown;
}

interface V1beta1Spec {
  group: string;
  names: unknown;
  scope: string;
  version?: string;
  versions?: V1beta1Version[];
  validation?: { openAPIV3Schema?: Schema };
  additionalPrinterColumns?: Record<string, unknown>[];
  subresources?: unknown;
}

export interface CrdDocument extends KubeObject {
  spec?: unknown;
}

const isObject = (value: unknown): value is Schema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A copy of `schema` in which every schema with properties (or none at the root) is typed. */
export function structuralSchema(schema: Schema, root = true): Schema {
  const copy: Schema = { ...schema };
  if (copy['type'] === undefined && (root || isObject(copy['properties']))) copy['type'] = 'object';
  if (isObject(copy['properties'])) {
    copy['properties'] = Object.fromEntries(
      Object.entries(copy['properties']).map(([key, value]) => [
        key,
        isObject(value) ? structuralSchema(value, false) : value,
      ]),
    );
  }
  if (isObject(copy['items'])) copy['items'] = structuralSchema(copy['items'], false);
  if (isObject(copy['additionalProperties'])) {
    copy['additionalProperties'] = structuralSchema(copy['additionalProperties'], false);
  }
  return copy;
}

const printerColumn = (column: Record<string, unknown>): Record<string, unknown> => {
  const { JSONPath, ...rest } = column;
  return JSONPath === undefined ? rest : { ...rest, jsonPath: JSONPath };
};

/** `crd` unchanged unless it is v1beta1; then its v1 equivalent with every version served. */
export function crdToV1(crd: CrdDocument): CrdDocument {
  if (crd.apiVersion !== 'apiextensions.k8s.io/v1beta1') return crd;
  const spec = crd.spec as V1beta1Spec;
  const listed: V1beta1Version[] =
    spec.versions ??
    (spec.version === undefined ? [] : [{ name: spec.version, served: true, storage: true }]);
  if (listed.length === 0) {
    throw new Error(`CRD ${crd.metadata.name}: spec.versions and spec.version are both missing`);
  }
  const storage = listed.find((version) => version.storage === true)?.name ?? listed[0]!.name;
  const versions = listed.map((version) => {
    const schema = version.schema?.openAPIV3Schema ?? spec.validation?.openAPIV3Schema ?? {};
    const columns = version.additionalPrinterColumns ?? spec.additionalPrinterColumns;
    const subresources = version.subresources ?? spec.subresources;
    return {
      name: version.name,
      served: true,
      storage: version.name === storage,
      schema: { openAPIV3Schema: structuralSchema(schema) },
      ...(columns === undefined ? {} : { additionalPrinterColumns: columns.map(printerColumn) }),
      ...(subresources === undefined ? {} : { subresources }),
    };
  });
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: crd.metadata.name, ...(crd.metadata.labels ? { labels: crd.metadata.labels } : {}) },
    spec: { group: spec.group, names: spec.names, scope: spec.scope, versions },
  };
}
