/**
 * The engine's ports: everything it needs from a platform (Kubernetes, local processes) and from
 * the outside world, as contracts. The engine calls them; adapters implement them. Every method
 * may be called again after a crash or a restart, so each one says what repeating it does.
 *
 * Errors: a method that cannot do its job throws an Error subclass (never a plain object). The
 * engine treats a thrown error as retriable on the next tick unless the contract says otherwise;
 * it never lets one escape a tick.
 */
import type { AlertProvider } from '../api/schema/alert-provider.js';
import type { Canary, CanaryStatus, CanaryWebhook } from '../api/schema/canary.js';
import type { MetricTemplate } from '../api/schema/metric-template.js';
import type { Clock as SharedClock } from '../shared/clock.js';
import type { Routes } from './progression.js';

/** Identifies a canary: Flagger's `<name>.<namespace>`. */
export interface CanaryKey {
  readonly namespace: string;
  readonly name: string;
}

export const keyOf = (canary: Canary): CanaryKey => ({
  namespace: canary.metadata.namespace ?? 'default',
  name: canary.metadata.name,
});

export const formatKey = (key: CanaryKey): string => `${key.name}.${key.namespace}`;

/** Reads canaries and the objects they reference. Reads may come from a cache. */
export interface CanarySource {
  /** The canary as it is now, or undefined when it no longer exists. */
  getCanary(key: CanaryKey): Promise<Canary | undefined>;
  getMetricTemplate(namespace: string, name: string): Promise<MetricTemplate | undefined>;
  getAlertProvider(namespace: string, name: string): Promise<AlertProvider | undefined>;
  /** The data of a Secret as strings, or undefined when it does not exist. */
  getSecret(namespace: string, name: string): Promise<Record<string, string> | undefined>;
}

export type Readiness =
  | { readonly ready: true }
  /**
   * `retriable: false` means waiting will not help (the progress deadline passed, the rollout
   * was abandoned): the engine rolls back, or fails the promotion.
   */
  | { readonly ready: false; readonly retriable: boolean; readonly reason: string };

/** What the target looks like now, to detect a new revision (docs/flagger-compatibility.md#26-change-detection). */
export interface TargetRevision {
  /** A hash of the target's pod template (Flagger's `lastAppliedSpec` format is not required). */
  readonly specHash: string;
  /** Tracked ConfigMaps and Secrets: `configmap/<name>` or `secret/<name>` → checksum. */
  readonly trackedConfigs: Readonly<Record<string, string>>;
  /**
   * Whether the primary already runs this spec (what a promotion would write). Used to adopt a
   * status Flagger wrote (takeover.ts); undefined where a platform cannot tell.
   */
  readonly primaryRunsTarget?: boolean;
}

/** The target workload and its `-primary` copy. */
export interface Workloads {
  /** Creates `<target>-primary` from the target when it does not exist. Idempotent: an existing primary is left as is. */
  ensurePrimary(canary: Canary): Promise<void>;
  /** Readiness of the primary, with the canary's readiness threshold and progress deadline applied. */
  primaryReadiness(canary: Canary): Promise<Readiness>;
  /** Readiness of the target (the canary side). */
  canaryReadiness(canary: Canary): Promise<Readiness>;
  /** Scales the target to zero (and pauses its autoscaler). Idempotent. */
  scaleToZero(canary: Canary): Promise<void>;
  /** Scales the target back up (and resumes its autoscaler). Idempotent. */
  scaleFromZero(canary: Canary): Promise<void>;
  /**
   * Makes the primary run the target's current spec (and tracked configs), starting its rollout.
   * Idempotent by content: when the primary already runs that spec, nothing changes and no
   * rollout restarts. The engine relies on this to repeat a promotion after a crash safely.
   */
  promote(canary: Canary): Promise<void>;
  /** The target's current revision. */
  revision(canary: Canary): Promise<TargetRevision>;
  /** revertOnDeletion: gives the target back its traffic and replicas before the canary goes. */
  restoreTarget(canary: Canary): Promise<void>;
}

/** Session-affinity cookies in force, from status (docs/flagger-compatibility.md#23-progression-per-strategy). */
export interface AffinityCookies {
  readonly canary?: string;
  readonly primary?: string;
  readonly previous?: string;
}

/** Moves traffic between the primary and the canary. */
export interface Router {
  /** Creates or updates the routing objects (not the weights). Idempotent. */
  reconcile(canary: Canary): Promise<void>;
  /** The weights and mirroring in force, read back from the routing objects. */
  getRoutes(canary: Canary): Promise<Routes>;
  /**
   * Sets the weights (primary + canary = 100) and mirroring; A/B matches and session-affinity
   * rules come from the canary's spec and `cookies`. Idempotent.
   */
  setRoutes(canary: Canary, routes: Routes, cookies?: AffinityCookies): Promise<void>;
  /** revertOnDeletion: restores the routing as it was before the canary. Idempotent. */
  finalize(canary: Canary): Promise<void>;
}

/** Status persistence with conflict handling. */
export interface StatusStore {
  /**
   * Applies `change` to the latest stored status and writes the result. On a write conflict the
   * store re-reads and applies `change` again, so `change` must be a pure function of its input.
   * Returns the status written.
   */
  update(key: CanaryKey, change: (status: CanaryStatus) => CanaryStatus): Promise<CanaryStatus>;
}

export type EventType = 'Normal' | 'Warning';

/** Kubernetes Events, or their local equivalent. Never throws: a lost event must not stop a canary. */
export interface EventSink {
  emit(canary: Canary, type: EventType, message: string): Promise<void>;
}

export type AlertSeverity = 'info' | 'warn' | 'error';

export interface AlertMessage {
  readonly canary: CanaryKey;
  /** `<Kind>/<target>.<namespace>` */
  readonly target: string;
  readonly severity: AlertSeverity;
  readonly text: string;
  /** Title → value, in order (docs/flagger-compatibility.md#7-alerts "Fields"). */
  readonly fields: readonly (readonly [string, string])[];
}

/** One chat or webhook destination. Never throws and never blocks an analysis for long. */
export interface Notifier {
  /**
   * Never rejects for delivery trouble: resolves `false` when the message could not be delivered
   * (the notifier has logged why), `true` or nothing when it was.
   */
  send(message: AlertMessage): Promise<boolean | void>;
}

/** Builds notifiers from AlertProviders (the implementations come with the integrations). */
export interface NotifierFactory {
  forProvider(provider: AlertProvider, secret: Record<string, string> | undefined): Notifier;
}

/** The payload Flagger POSTs to webhooks (docs/flagger-compatibility.md#5-webhooks), in Flagger's key order. */
export interface WebhookPayload {
  readonly name: string;
  readonly namespace: string;
  readonly phase: string;
  readonly checksum: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface WebhookResult {
  /** Status ≤ 202. */
  readonly ok: boolean;
  /** HTTP status of the last attempt; 0 when no response arrived. */
  readonly status: number;
  /** Response body (first 64 KiB), or the transport error. */
  readonly body: string;
  /** Requests sent; 0 when nothing could be sent (bad URL, bad header, missing Secret). */
  readonly attempts: number;
}

export interface WebhookClient {
  /** POSTs the payload with the hook's timeout and retries. Never throws: failures are results. */
  call(
    hook: CanaryWebhook,
    payload: WebhookPayload,
    headers: Readonly<Record<string, string>>,
  ): Promise<WebhookResult>;
  /** Releases pooled connections (on shutdown). */
  close?(): Promise<void>;
}

/**
 * Answers an operator's request (src/engine/operator-requests.ts): records on the canary that the
 * request with `id` was honoured, as `vireo.dev/request-done: <id>`, so it is honoured once, also
 * after a restart or a leader change. Repeating it writes the same value again.
 */
export interface RequestAcknowledger {
  acknowledge(key: CanaryKey, id: string): Promise<void>;
}

/** The engine reads only the wall clock (statuses, events); see src/shared/clock.ts. */
export type Clock = Pick<SharedClock, 'now'>;
