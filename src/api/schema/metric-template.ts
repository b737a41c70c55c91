/** The MetricTemplate kind (docs/flagger-compatibility.md#16-metrictemplate-and-alertprovider, docs/flagger-compatibility.md#42-metric-templates-and-providers). */
import { Type, type Static } from '@sinclair/typebox';
import { CLOSED, Enum, LocalObjectReference, MapOf, ObjectMeta } from './common.js';

export const METRIC_PROVIDER_TYPES = [
  'prometheus',
  'influxdb',
  'datadog',
  'externalmetrics',
  'stackdriver',
  'cloudwatch',
  'newrelic',
  'graphite',
  'dynatrace',
  'keptn',
  'splunk',
  // Documented by Flagger (usage/metrics.md) but missing from its CRD enum; we follow the docs.
  'skywalking',
] as const;

export const MetricTemplateSpec = Type.Object(
  {
    provider: Type.Object(
      {
        type: Enum(METRIC_PROVIDER_TYPES, { description: 'Metrics backend.' }),
        address: Type.Optional(Type.String({ description: 'API address of the backend.' })),
        headers: Type.Optional(
          MapOf(Type.Array(Type.String()), {
            description: 'HTTP headers sent with each query (Prometheus).',
          }),
        ),
        secretRef: Type.Optional(
          LocalObjectReference("Secret, in the template's namespace, with the backend credentials."),
        ),
        region: Type.Optional(Type.String({ description: 'Region (CloudWatch).' })),
        insecureSkipVerify: Type.Optional(Type.Boolean({ description: 'Skip TLS verification.' })),
      },
      { ...CLOSED, description: 'Where and how to run the query.' },
    ),
    query: Type.String({
      description:
        'Query, rendered with {{ name }}, {{ namespace }}, {{ target }}, {{ service }}, {{ ingress }}, {{ route }}, {{ interval }} and {{ variables.KEY }}.',
    }),
  },
  { ...CLOSED, description: 'A query that a Canary metric runs.' },
);

export const MetricTemplate = Type.Object(
  {
    apiVersion: Type.Literal('flagger.app/v1beta1'),
    kind: Type.Literal('MetricTemplate'),
    metadata: ObjectMeta,
    spec: MetricTemplateSpec,
    status: Type.Optional(Type.Object({}, { description: 'Not used.' })),
  },
  CLOSED,
);

export type MetricTemplate = Static<typeof MetricTemplate>;
export type MetricProviderType = (typeof METRIC_PROVIDER_TYPES)[number];
