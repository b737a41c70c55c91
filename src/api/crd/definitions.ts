/** The three flagger.app CustomResourceDefinitions, derived from the schemas in api/schema. */
import type { TObject } from '@sinclair/typebox';
import { AlertProvider } from '../schema/alert-provider.js';
import { Canary } from '../schema/canary.js';
import { MetricTemplate } from '../schema/metric-template.js';
import { toStructuralSchema } from './structural.js';

export const API_GROUP = 'flagger.app';
export const API_VERSION = 'v1beta1';

interface PrinterColumn {
  name: string;
  type: 'string' | 'boolean' | 'integer' | 'number' | 'date';
  jsonPath: string;
  priority?: number;
}

interface CrdNames {
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
}

export interface CrdDefinition {
  fileName: string;
  names: CrdNames;
  schema: TObject;
  printerColumns: PrinterColumn[];
}

// Flagger's columns, in Flagger's order, so `kubectl get canaries` (and `-o wide`) look the same.
const CANARY_COLUMNS: PrinterColumn[] = [
  { name: 'Status', type: 'string', jsonPath: '.status.phase' },
  { name: 'Weight', type: 'string', jsonPath: '.status.canaryWeight' },
  { name: 'Suspended', type: 'boolean', jsonPath: '.spec.suspend', priority: 1 },
  { name: 'FailedChecks', type: 'string', jsonPath: '.status.failedChecks', priority: 1 },
  { name: 'Interval', type: 'string', jsonPath: '.spec.analysis.interval', priority: 1 },
  { name: 'Mirror', type: 'boolean', jsonPath: '.spec.analysis.mirror', priority: 1 },
  { name: 'StepWeight', type: 'string', jsonPath: '.spec.analysis.stepWeight', priority: 1 },
  { name: 'StepWeights', type: 'string', jsonPath: '.spec.analysis.stepWeights', priority: 1 },
  { name: 'MaxWeight', type: 'string', jsonPath: '.spec.analysis.maxWeight', priority: 1 },
  { name: 'LastTransitionTime', type: 'string', jsonPath: '.status.lastTransitionTime' },
];

export const CRD_DEFINITIONS: readonly CrdDefinition[] = [
  {
    fileName: 'canaries.flagger.app.yaml',
    names: {
      kind: 'Canary',
      listKind: 'CanaryList',
      plural: 'canaries',
      singular: 'canary',
      shortNames: ['cn'],
      categories: ['all'],
    },
    schema: Canary,
    printerColumns: CANARY_COLUMNS,
  },
  {
    fileName: 'metrictemplates.flagger.app.yaml',
    names: {
      kind: 'MetricTemplate',
      listKind: 'MetricTemplateList',
      plural: 'metrictemplates',
      singular: 'metrictemplate',
      shortNames: ['mt'],
      categories: ['all'],
    },
    schema: MetricTemplate,
    printerColumns: [{ name: 'Provider', type: 'string', jsonPath: '.spec.provider.type' }],
  },
  {
    fileName: 'alertproviders.flagger.app.yaml',
    names: {
      kind: 'AlertProvider',
      listKind: 'AlertProviderList',
      plural: 'alertproviders',
      singular: 'alertprovider',
      shortNames: ['ap'],
      categories: ['all'],
    },
    schema: AlertProvider,
    printerColumns: [{ name: 'Type', type: 'string', jsonPath: '.spec.type' }],
  },
];

const TOP_LEVEL_DESCRIPTIONS = {
  apiVersion:
    'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.',
  kind: 'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. In CamelCase.',
};

export function buildCrd(definition: CrdDefinition): Record<string, unknown> {
  const structural = toStructuralSchema(definition.schema);
  const properties = structural['properties'] as Record<string, unknown>;
  // apiVersion, kind and metadata are the API server's business: a CRD may only type them.
  properties['apiVersion'] = { type: 'string', description: TOP_LEVEL_DESCRIPTIONS.apiVersion };
  properties['kind'] = { type: 'string', description: TOP_LEVEL_DESCRIPTIONS.kind };
  properties['metadata'] = { type: 'object' };
  delete structural['required'];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${definition.names.plural}.${API_GROUP}`,
      annotations: { 'helm.sh/resource-policy': 'keep' },
    },
    spec: {
      group: API_GROUP,
      names: definition.names,
      scope: 'Namespaced',
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: definition.printerColumns,
          schema: { openAPIV3Schema: structural },
        },
      ],
    },
  };
}
