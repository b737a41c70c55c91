/** The Canary kind (docs/flagger-compatibility.md#11-canary, docs/flagger-compatibility.md#13-canary-analysis, docs/flagger-compatibility.md#14-canary-status). */
import { Type, type Static } from '@sinclair/typebox';
import { SPEC_PROVIDER_NAMES } from '../../routers/traits.js';
import { CanaryService } from './canary-service.js';
import {
  CLOSED,
  CrossNamespaceObjectReference,
  Enum,
  FlaggerDuration,
  IntegerNumber,
  LocalObjectReference,
  MapOf,
  NamespacedObjectReference,
  NamespacedReference,
  ObjectMeta,
  StringMap,
} from './common.js';

/** Flagger's CRD enum and the documented `smi:crossover`, from the router table (src/routers/traits.ts). */
export const ROUTER_PROVIDERS = SPEC_PROVIDER_NAMES;

export const WEBHOOK_TYPES = [
  '',
  'confirm-rollout',
  'pre-rollout',
  'rollout',
  'confirm-promotion',
  'post-rollout',
  'event',
  'rollback',
  'confirm-traffic-increase',
] as const;

export const ALERT_SEVERITIES = ['', 'info', 'warn', 'error'] as const;

export const CANARY_PHASES = [
  '',
  'Initializing',
  'Initialized',
  'Waiting',
  'Progressing',
  'WaitingPromotion',
  'Promoting',
  'Finalising',
  'Succeeded',
  'Failed',
  'Terminating',
  'Terminated',
] as const;

const HeaderMatch = Type.Object(
  {
    exact: Type.Optional(Type.String({ format: 'string' })),
    prefix: Type.Optional(Type.String({ format: 'string' })),
    suffix: Type.Optional(Type.String({ format: 'string' })),
    regex: Type.Optional(Type.String({ format: 'string' })),
  },
  {
    ...CLOSED,
    oneOf: [
      { required: ['exact'] },
      { required: ['prefix'] },
      { required: ['suffix'] },
      { required: ['regex'] },
    ],
    'x-vireo-one-of': 'set exactly one of exact, prefix, suffix or regex',
  },
);

const QueryParamMatch = Type.Object(
  {
    exact: Type.Optional(Type.String()),
    prefix: Type.Optional(Type.String()),
    regex: Type.Optional(Type.String()),
  },
  {
    ...CLOSED,
    oneOf: [
      { not: { anyOf: [{ required: ['exact'] }, { required: ['prefix'] }, { required: ['regex'] }] } },
      { required: ['exact'] },
      { required: ['prefix'] },
      { required: ['regex'] },
    ],
    'x-vireo-one-of': 'set at most one of exact, prefix or regex',
  },
);

export const AnalysisMatch = Type.Object(
  {
    headers: Type.Optional(
      MapOf(HeaderMatch, { description: 'Request headers (cookie: the Cookie header).' }),
    ),
    queryParams: Type.Optional(MapOf(QueryParamMatch, { description: 'Query parameters.' })),
    sourceLabels: Type.Optional(
      MapOf(Type.String({ format: 'string' }), { description: 'Istio source labels.' }),
    ),
  },
  { ...CLOSED, description: 'A/B testing: requests that go to the canary.' },
);

export const CanaryMetric = Type.Object(
  {
    name: Type.String({
      description: 'request-success-rate and request-duration are built in; other names need templateRef.',
    }),
    interval: Type.Optional(FlaggerDuration({ description: 'Range of the metric query (default 1m).' })),
    threshold: Type.Optional(
      Type.Number({
        description: 'Deprecated: use thresholdRange. Built-ins fail below it, templates above it.',
      }),
    ),
    thresholdRange: Type.Optional(
      Type.Object(
        {
          min: Type.Optional(Type.Number({ description: 'The check fails below this value.' })),
          max: Type.Optional(Type.Number({ description: 'The check fails above this value.' })),
        },
        { ...CLOSED, description: 'Accepted range of the metric value.' },
      ),
    ),
    query: Type.Optional(Type.String({ description: 'Deprecated: inline PromQL; use a MetricTemplate.' })),
    templateRef: Type.Optional(NamespacedReference('The MetricTemplate that defines this metric.')),
    templateVariables: Type.Optional(StringMap('Values for {{ variables.KEY }} in the template query.')),
  },
  { ...CLOSED, description: 'A check run on every analysis step.' },
);

export const CanaryAlert = Type.Object(
  {
    name: Type.String({ description: 'Name of this alert.' }),
    severity: Type.Optional(
      Enum(ALERT_SEVERITIES, {
        description: 'Lowest severity sent: info (everything), warn, or error. Empty means info.',
      }),
    ),
    providerRef: NamespacedReference('The AlertProvider to send through.'),
  },
  { ...CLOSED, description: 'An alert sent through an AlertProvider.' },
);

export const CanaryWebhook = Type.Object(
  {
    name: Type.String({ description: 'Name of the hook, reported in events.' }),
    type: Type.Optional(Enum(WEBHOOK_TYPES, { description: 'When the hook runs (empty means rollout).' })),
    muteAlert: Type.Optional(Type.Boolean({ description: 'Do not alert when this gate halts the canary.' })),
    url: Type.String({ format: 'url', description: 'URL that receives a POST with the canary payload.' }),
    timeout: Type.Optional(FlaggerDuration({ description: 'Per-attempt timeout (default 10s).' })),
    retries: Type.Optional(IntegerNumber({ description: 'Retries on network errors, 429 and 5xx.' })),
    disableTLS: Type.Optional(Type.Boolean({ description: 'Skip TLS verification.' })),
    metadata: Type.Optional(StringMap('Extra fields sent in the payload.')),
    secretRef: Type.Optional(
      LocalObjectReference(
        "Vireo addition: a Secret in the canary's namespace whose keys and values are sent as request headers (for example Authorization), so gates and checks can authenticate.",
      ),
    ),
  },
  { ...CLOSED, description: 'An HTTP hook called during the analysis.' },
);

export const SessionAffinity = Type.Object(
  {
    cookieName: Type.String({ description: 'Cookie that pins a user to the canary.' }),
    primaryCookieName: Type.Optional(Type.String({ description: 'Cookie that pins a user to the primary.' })),
    domain: Type.Optional(Type.String()),
    httpOnly: Type.Optional(Type.Boolean()),
    maxAge: Type.Optional(IntegerNumber({ default: 86400, description: 'Cookie Max-Age in seconds.' })),
    partitioned: Type.Optional(Type.Boolean()),
    path: Type.Optional(Type.String()),
    sameSite: Type.Optional(Enum(['Strict', 'Lax', 'None'])),
    secure: Type.Optional(Type.Boolean()),
  },
  { ...CLOSED, description: 'Keep users on the side they first reached (Istio, Gateway API).' },
);

export const CanaryAnalysis = Type.Object(
  {
    interval: Type.Optional(
      FlaggerDuration({ description: 'Time between analysis steps (default 60s, min 10s).' }),
    ),
    iterations: Type.Optional(IntegerNumber({ description: 'A/B and blue/green: checks before promotion.' })),
    threshold: Type.Optional(IntegerNumber({ description: 'Failed checks before rollback.' })),
    maxWeight: Type.Optional(IntegerNumber({ description: 'Highest canary weight (default 100).' })),
    stepWeight: Type.Optional(IntegerNumber({ description: 'Canary weight added at each step.' })),
    stepWeights: Type.Optional(
      Type.Array(IntegerNumber(), {
        description: 'Canary weights in order; replaces stepWeight and maxWeight.',
      }),
    ),
    stepWeightPromotion: Type.Optional(
      IntegerNumber({ description: 'Primary weight added per step during promotion (0: all at once).' }),
    ),
    mirror: Type.Optional(Type.Boolean({ description: 'Mirror traffic to the canary before shifting it.' })),
    mirrorWeight: Type.Optional(IntegerNumber({ description: 'Percentage of traffic mirrored (Istio).' })),
    primaryReadyThreshold: Type.Optional(
      IntegerNumber({ description: '% of primary replicas that must be available (default 100).' }),
    ),
    canaryReadyThreshold: Type.Optional(
      IntegerNumber({ description: '% of canary replicas that must be available (default 100).' }),
    ),
    match: Type.Optional(Type.Array(AnalysisMatch, { description: 'A/B testing conditions.' })),
    metrics: Type.Optional(Type.Array(CanaryMetric)),
    webhooks: Type.Optional(Type.Array(CanaryWebhook)),
    alerts: Type.Optional(Type.Array(CanaryAlert)),
    sessionAffinity: Type.Optional(SessionAffinity),
  },
  {
    ...CLOSED,
    description: 'How the canary is analysed, advanced, promoted or rolled back.',
    oneOf: [
      { required: ['interval', 'threshold', 'iterations'] },
      { required: ['interval', 'threshold', 'stepWeight'] },
      { required: ['interval', 'threshold', 'stepWeights'] },
    ],
    'x-vireo-one-of':
      'set interval, threshold and exactly one of stepWeight (canary), stepWeights (canary) or iterations (A/B, blue/green)',
  },
);

export const CanarySpec = Type.Object(
  {
    provider: Type.Optional(
      Enum(ROUTER_PROVIDERS, { description: 'Router for this canary; overrides --mesh-provider.' }),
    ),
    metricsServer: Type.Optional(
      Type.String({ description: 'Prometheus URL for built-in metrics; overrides --metrics-server.' }),
    ),
    progressDeadlineSeconds: Type.Optional(
      IntegerNumber({ description: 'Seconds a rollout may make no progress before rollback (default 600).' }),
    ),
    // Workload (local.vireo.dev/v1alpha1) names a process set of local mode; the controller refuses it.
    targetRef: CrossNamespaceObjectReference(['DaemonSet', 'Deployment', 'Service', 'Workload']),
    autoscalerRef: Type.Optional(
      Type.Object(
        {
          apiVersion: Type.String(),
          kind: Enum(['HorizontalPodAutoscaler', 'ScaledObject']),
          name: Type.String(),
          primaryScalerQueries: Type.Optional(
            StringMap('KEDA: trigger queries for the primary ScaledObject.'),
          ),
          primaryScalerReplicas: Type.Optional(
            Type.Object(
              {
                minReplicas: Type.Optional(Type.Integer({ minimum: 1 })),
                maxReplicas: Type.Optional(Type.Integer({ minimum: 1 })),
              },
              { ...CLOSED, description: 'Replica bounds of the primary autoscaler.' },
            ),
          ),
        },
        {
          ...CLOSED,
          description: 'HorizontalPodAutoscaler (autoscaling/v2) or KEDA ScaledObject of the target.',
        },
      ),
    ),
    ingressRef: Type.Optional(CrossNamespaceObjectReference(['Ingress'])),
    routeRef: Type.Optional(CrossNamespaceObjectReference(['ApisixRoute'])),
    upstreamRef: Type.Optional(NamespacedObjectReference(['Upstream'])),
    service: Type.Optional(CanaryService),
    analysis: CanaryAnalysis,
    canaryAnalysis: Type.Optional(
      // Kept as-is rather than re-declared: `vireo validate` checks it as `analysis` and asks to rename it.
      Type.Unsafe<CanaryAnalysis>({
        type: 'object',
        'x-kubernetes-preserve-unknown-fields': true,
        description:
          "Deprecated alias of analysis, read only when analysis is absent (Flagger's CRD prunes it; Vireo keeps it).",
      }),
    ),
    skipAnalysis: Type.Optional(Type.Boolean({ description: 'Promote without analysis.' })),
    revertOnDeletion: Type.Optional(
      Type.Boolean({ description: 'Restore the target when the Canary is deleted.' }),
    ),
    suspend: Type.Optional(Type.Boolean({ description: 'Pause the canary: nothing is reconciled.' })),
  },
  { ...CLOSED, description: 'What to release and how.' },
);

const Condition = Type.Object(
  {
    type: Type.String(),
    status: Type.String(),
    reason: Type.String(),
    message: Type.Optional(Type.String()),
    lastTransitionTime: Type.Optional(Type.String({ format: 'date-time' })),
    lastUpdateTime: Type.Optional(Type.String({ format: 'date-time' })),
  },
  CLOSED,
);

export const CanaryStatus = Type.Object(
  {
    phase: Type.Optional(Enum(CANARY_PHASES)),
    failedChecks: Type.Optional(IntegerNumber()),
    canaryWeight: Type.Optional(IntegerNumber()),
    iterations: Type.Optional(IntegerNumber()),
    trackedConfigs: Type.Optional(StringMap()),
    lastAppliedSpec: Type.Optional(Type.String()),
    lastPromotedSpec: Type.Optional(Type.String()),
    lastTrackedRevision: Type.Optional(Type.String()),
    lastTransitionTime: Type.Optional(Type.String({ format: 'date-time' })),
    sessionAffinityCookie: Type.Optional(Type.String()),
    primarySessionAffinityCookie: Type.Optional(Type.String()),
    previousSessionAffinityCookie: Type.Optional(Type.String()),
    conditions: Type.Optional(Type.Array(Condition)),
  },
  { ...CLOSED, description: 'Observed state, written by the controller.' },
);

export const Canary = Type.Object(
  {
    apiVersion: Type.Literal('flagger.app/v1beta1'),
    kind: Type.Literal('Canary'),
    metadata: ObjectMeta,
    spec: CanarySpec,
    status: Type.Optional(CanaryStatus),
  },
  CLOSED,
);

export type Canary = Static<typeof Canary>;
export type CanarySpec = Static<typeof CanarySpec>;
export type CanaryAnalysis = Static<typeof CanaryAnalysis>;
export type CanaryMetric = Static<typeof CanaryMetric>;
export type CanaryWebhook = Static<typeof CanaryWebhook>;
export type CanaryAlert = Static<typeof CanaryAlert>;
export type CanaryStatus = Static<typeof CanaryStatus>;
export type CanaryPhase = (typeof CANARY_PHASES)[number];
export type WebhookType = (typeof WEBHOOK_TYPES)[number];
export type RouterProvider = (typeof ROUTER_PROVIDERS)[number];
export type AnalysisMatch = Static<typeof AnalysisMatch>;
export type SessionAffinity = Static<typeof SessionAffinity>;
