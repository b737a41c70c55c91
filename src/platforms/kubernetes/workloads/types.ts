/**
 * The parts of the Kubernetes objects the workload adapters read and write. Deliberately loose:
 * every object keeps the fields we do not model (index signatures), because the adapters copy
 * pod templates and Service specs verbatim and must not drop what a newer API version adds.
 */
import type { KubeObject } from '../client.js';

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface LocalRef {
  name?: string;
  optional?: boolean;
  [field: string]: unknown;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { configMapKeyRef?: LocalRef; secretKeyRef?: LocalRef; [field: string]: unknown };
  [field: string]: unknown;
}

export interface EnvFromSource {
  configMapRef?: LocalRef;
  secretRef?: LocalRef;
  [field: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  [field: string]: unknown;
}

export interface SecretVolumeSource {
  secretName?: string;
  optional?: boolean;
  [field: string]: unknown;
}

export interface VolumeProjection {
  configMap?: LocalRef;
  secret?: LocalRef;
  [field: string]: unknown;
}

export interface Volume {
  name: string;
  configMap?: LocalRef;
  secret?: SecretVolumeSource;
  projected?: { sources?: VolumeProjection[]; [field: string]: unknown };
  [field: string]: unknown;
}

export interface PodAffinityTerm {
  labelSelector?: LabelSelector;
  [field: string]: unknown;
}

export interface PodAntiAffinity {
  requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
  preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; podAffinityTerm: PodAffinityTerm }[];
  [field: string]: unknown;
}

export interface TopologySpreadConstraint {
  labelSelector?: LabelSelector;
  [field: string]: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  nodeSelector?: Record<string, string>;
  affinity?: { podAntiAffinity?: PodAntiAffinity; [field: string]: unknown };
  topologySpreadConstraints?: TopologySpreadConstraint[];
  [field: string]: unknown;
}

export interface PodTemplateSpec {
  metadata?: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
  spec: PodSpec;
}

export interface WorkloadCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
}

export interface Deployment extends KubeObject {
  spec: {
    replicas?: number;
    selector: LabelSelector;
    template: PodTemplateSpec;
    strategy?: unknown;
    minReadySeconds?: number;
    revisionHistoryLimit?: number;
    progressDeadlineSeconds?: number;
    [field: string]: unknown;
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: WorkloadCondition[];
  };
}

export interface DaemonSet extends KubeObject {
  spec: {
    selector: LabelSelector;
    template: PodTemplateSpec;
    updateStrategy?: unknown;
    minReadySeconds?: number;
    revisionHistoryLimit?: number;
    [field: string]: unknown;
  };
  status?: {
    observedGeneration?: number;
    desiredNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
    numberReady?: number;
  };
}

export interface ServicePort {
  name?: string;
  port: number;
  nodePort?: number;
  [field: string]: unknown;
}

export interface Service extends KubeObject {
  spec?: {
    selector?: Record<string, string>;
    ports?: ServicePort[];
    clusterIP?: string;
    clusterIPs?: string[];
    healthCheckNodePort?: number;
    [field: string]: unknown;
  };
}

export interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

export interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

export interface HorizontalPodAutoscaler extends KubeObject {
  spec: {
    scaleTargetRef: { apiVersion?: string; kind: string; name: string };
    minReplicas?: number;
    maxReplicas: number;
    metrics?: unknown[];
    behavior?: unknown;
  };
}

/** A KEDA trigger: the fields the primary copy rewrites; the rest passes through. */
export interface ScaledObjectTrigger {
  type: string;
  name?: string;
  metadata?: Record<string, string>;
  [field: string]: unknown;
}

/** A KEDA ScaledObject (keda.sh/v1alpha1), partial: unknown fields pass through. */
export interface ScaledObject extends KubeObject {
  spec: {
    scaleTargetRef: { apiVersion?: string; kind?: string; name: string; envSourceContainerName?: string };
    pollingInterval?: number;
    cooldownPeriod?: number;
    initialCooldownPeriod?: number;
    idleReplicaCount?: number;
    minReplicaCount?: number;
    maxReplicaCount?: number;
    fallback?: unknown;
    advanced?: {
      horizontalPodAutoscalerConfig?: { name?: string; [field: string]: unknown };
      [field: string]: unknown;
    };
    triggers: ScaledObjectTrigger[];
    [field: string]: unknown;
  };
}

/** One entry of a Knative Service's traffic block (spec.traffic or status.traffic). */
export interface KnativeTrafficTarget {
  revisionName?: string;
  latestRevision?: boolean;
  percent?: number;
  tag?: string;
  [field: string]: unknown;
}

/** A Knative Service (serving.knative.dev/v1), partial: unknown fields pass through. */
export interface KnativeService extends KubeObject {
  spec?: { template?: unknown; traffic?: KnativeTrafficTarget[]; [field: string]: unknown };
  status?: {
    latestCreatedRevisionName?: string;
    latestReadyRevisionName?: string;
    traffic?: KnativeTrafficTarget[];
    [field: string]: unknown;
  };
}

/** A Knative Revision: only its conditions are read. */
export interface KnativeRevision extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}
