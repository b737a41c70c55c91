/**
 * The few fields of core Kubernetes kinds that the generated Services and the routers read or
 * write. Deliberately partial: every other field passes through untouched (index signatures), so
 * an object read from the API and written back loses nothing.
 */
import type { KubeObject } from '../client.js';

export interface ServicePort {
  name?: string;
  protocol?: string;
  port: number;
  targetPort?: number | string;
  appProtocol?: string;
  nodePort?: number;
}

export interface ServiceSpec {
  type?: string;
  clusterIP?: string;
  selector?: Record<string, string>;
  ports?: ServicePort[];
  trafficDistribution?: string;
  [field: string]: unknown;
}

export interface Service extends KubeObject {
  spec?: ServiceSpec;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export interface Container {
  name: string;
  ports?: ContainerPort[];
  [field: string]: unknown;
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { containers?: Container[]; [field: string]: unknown };
}

/** A Deployment or a DaemonSet: the parts the Services are derived from. */
export interface Workload extends KubeObject {
  spec?: {
    selector?: { matchLabels?: Record<string, string> };
    template?: PodTemplate;
    [field: string]: unknown;
  };
}

export interface IngressServiceBackend {
  name: string;
  port?: { number?: number; name?: string };
}

export interface IngressBackend {
  service?: IngressServiceBackend;
  resource?: unknown;
}

export interface IngressPath {
  path?: string;
  pathType?: string;
  backend: IngressBackend;
}

export interface IngressRule {
  host?: string;
  http?: { paths: IngressPath[] };
}

export interface IngressSpec {
  ingressClassName?: string;
  defaultBackend?: IngressBackend;
  rules?: IngressRule[];
  tls?: unknown[];
  [field: string]: unknown;
}

export interface Ingress extends KubeObject {
  spec?: IngressSpec;
}
