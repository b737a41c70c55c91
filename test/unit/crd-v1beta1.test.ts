import { describe, expect, it } from 'vitest';
import { crdToV1, structuralSchema, type CrdDocument } from '../support/crd-v1beta1.js';

/** The shape of SMI's crds/split.yaml (smi-sdk-go v0.5.0), trimmed. */
const v1beta1: CrdDocument = {
  apiVersion: 'apiextensions.k8s.io/v1beta1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'trafficsplits.split.smi-spec.io' },
  spec: {
    group: 'split.smi-spec.io',
    scope: 'Namespaced',
    names: { kind: 'TrafficSplit', plural: 'trafficsplits' },
    version: 'v1alpha4',
    versions: [
      { name: 'v1alpha4', served: true, storage: true },
      { name: 'v1alpha3', served: false, storage: false },
      { name: 'v1alpha1', served: false, storage: false },
    ],
    additionalPrinterColumns: [{ name: 'Service', type: 'string', JSONPath: '.spec.service' }],
    validation: {
      openAPIV3Schema: {
        properties: {
          spec: {
            type: 'object',
            properties: {
              service: { type: 'string' },
              backends: {
                type: 'array',
                items: { required: ['service'], properties: { service: { type: 'string' } } },
              },
            },
          },
        },
      },
    },
  },
};

describe('crdToV1', () => {
  it('given a v1beta1 CRD with versions not served, when converted, then every version is served, one stores, each carrying the schema and columns', () => {
    const converted = crdToV1(v1beta1) as {
      apiVersion: string;
      spec: { versions: Record<string, unknown>[] };
    };
    expect(converted.apiVersion).toBe('apiextensions.k8s.io/v1');
    expect(converted.spec).not.toHaveProperty('validation');
    expect(converted.spec).not.toHaveProperty('version');
    expect(
      converted.spec.versions.map((version) => [version['name'], version['served'], version['storage']]),
    ).toEqual([
      ['v1alpha4', true, true],
      ['v1alpha3', true, false],
      ['v1alpha1', true, false],
    ]);
    for (const version of converted.spec.versions) {
      expect(version['additionalPrinterColumns']).toEqual([
        { name: 'Service', type: 'string', jsonPath: '.spec.service' },
      ]);
      expect(version['schema']).toMatchObject({
        openAPIV3Schema: {
          type: 'object',
          properties: { spec: { properties: { backends: { items: { type: 'object' } } } } },
        },
      });
    }
  });

  it('given only spec.version, when converted, then that one version is served and stored', () => {
    const single = { ...v1beta1, spec: { ...(v1beta1.spec as object), versions: undefined, version: 'v1' } };
    expect((crdToV1(single) as { spec: { versions: unknown[] } }).spec.versions).toEqual([
      expect.objectContaining({ name: 'v1', served: true, storage: true }),
    ]);
  });

  it('given a v1 CRD, when converted, then it is returned as it is', () => {
    const v1 = { ...v1beta1, apiVersion: 'apiextensions.k8s.io/v1' };
    expect(crdToV1(v1)).toBe(v1);
  });

  it('given typed leaves, when made structural, then their types are kept and only untyped objects gain one', () => {
    expect(structuralSchema({ properties: { weight: { type: 'number' }, x: { properties: {} } } })).toEqual({
      type: 'object',
      properties: { weight: { type: 'number' }, x: { type: 'object', properties: {} } },
    });
  });
});
