/**
 * Alerts (docs/flagger-compatibility.md#7-alerts): what a chat message says, which fields it carries, and which
 * AlertProviders receive it. Pure routing behind the ports: the notifiers that speak Slack, Teams
 * and the rest come from the `NotifierFactory`, the providers and Secrets from the `CanarySource`.
 *
 * An alert is a courtesy, never a reason to stop a canary: `AlertRouter.send` never throws, and a
 * missing provider, a bad Secret or a failing chat service only produce a log entry.
 */
import type { AlertProvider } from '../api/schema/alert-provider.js';
import type { Canary, CanaryAlert } from '../api/schema/canary.js';
import {
  formatKey,
  keyOf,
  type AlertMessage,
  type AlertSeverity,
  type CanarySource,
  type Notifier,
  type NotifierFactory,
} from './ports.js';
import { effectiveMaxWeight, type ProgressionSettings } from './progression.js';
import { analysisOf, progressionSettings } from './settings.js';

/** Flagger's `progressDeadlineSeconds` default (docs/flagger-compatibility.md#11-canary). */
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;

/**
 * The message texts of docs/flagger-compatibility.md#7-alerts, word for word: users filter and search their chat history
 * on them, so they must not drift from Flagger's.
 */
export const ALERT_TEXT = {
  /** `kind` is `spec.targetRef.kind`. */
  initialized: (kind: string) => `New ${kind} detected, initialization completed.`,
  newRevision: 'New revision detected, progressing canary analysis.',
  promotionFinished: 'Canary analysis completed successfully, promotion finished.',
  analysisSkipped: 'Canary analysis was skipped, promotion finished.',
  waitingForApproval: 'Canary is waiting for approval.',
  trafficIncreaseWaitingForApproval: 'Canary traffic increase is waiting for approval.',
  promotionWaitingForApproval: 'Canary promotion is waiting for approval.',
  rollbackWebhookInvoked: 'Rolling back manual webhook invoked',
  failedChecksThreshold: (failedChecks: number) => `Failed checks threshold reached ${failedChecks}`,
  promotionFailed: (reason: string) => `Promotion failed, primary not ready: ${reason}`,
  /** Flagger defines it but never reaches it (docs/flagger-compatibility.md#24-skipping-the-analysis); Vireo sends it. */
  progressDeadlineExceeded: (reason: string) => `Progress deadline exceeded ${reason}`,
} as const;

export type AlertKind = keyof typeof ALERT_TEXT;

/** The severity each message is sent with (docs/flagger-compatibility.md#7-alerts). */
export const ALERT_SEVERITY: Readonly<Record<AlertKind, AlertSeverity>> = {
  initialized: 'info',
  newRevision: 'info',
  promotionFinished: 'info',
  analysisSkipped: 'info',
  waitingForApproval: 'warn',
  trafficIncreaseWaitingForApproval: 'warn',
  promotionWaitingForApproval: 'warn',
  rollbackWebhookInvoked: 'warn',
  failedChecksThreshold: 'error',
  promotionFailed: 'error',
  progressDeadlineExceeded: 'error',
};

const SEVERITY_RANK: Readonly<Record<AlertSeverity, number>> = { info: 0, warn: 1, error: 2 };

/**
 * Whether an alert configured with `alertSeverity` receives a message of `messageSeverity`: the
 * alert's severity is the lowest one it receives (info: everything, warn: warn and error, error:
 * error only). An empty or missing severity means info, as Flagger's docs say; Flagger itself
 * never fires those, and also sends warn messages to error alerts (#1072). We follow the docs.
 */
export function shouldSend(
  alertSeverity: CanaryAlert['severity'] | undefined,
  messageSeverity: AlertSeverity,
): boolean {
  const lowest: AlertSeverity = alertSeverity === undefined || alertSeverity === '' ? 'info' : alertSeverity;
  return SEVERITY_RANK[messageSeverity] >= SEVERITY_RANK[lowest];
}

export interface AlertFieldOptions {
  /** `--cluster-name`: adds a leading `Cluster` field when set. */
  readonly clusterName?: string;
  /** `--mesh-provider`: the kubernetes provider turns a canary into blue/green. */
  readonly meshProvider?: string;
  /**
   * Whether to add the canary's settings (Target, threshold, deadline, routing). Flagger adds them
   * only to the "initialization completed" and "New revision detected" messages; Vireo adds them
   * to every message unless told otherwise, since a failure alert is where they help most.
   */
  readonly metadata?: boolean;
}

/** `<Kind>/<target>.<namespace>`, the Target field and `AlertMessage.target`. */
export function alertTarget(canary: Canary): string {
  const { kind, name } = canary.spec.targetRef;
  return `${kind}/${name}.${keyOf(canary).namespace}`;
}

/** The fields of docs/flagger-compatibility.md#7-alerts, in Flagger's order. */
export function alertFields(canary: Canary, options: AlertFieldOptions = {}): [string, string][] {
  const fields: [string, string][] = [];
  if (options.clusterName) fields.push(['Cluster', options.clusterName]);
  if (options.metadata === false) return fields;

  const settings = progressionSettings(canary.spec, options.meshProvider);
  const progressDeadline = canary.spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS;
  fields.push(
    ['Target', alertTarget(canary)],
    ['Failed checks threshold', String(settings.threshold)],
    ['Progress deadline', `${progressDeadline}s`],
  );
  const routing = trafficRouting(settings);
  if (routing !== undefined) fields.push(['Traffic routing', routing]);
  return fields;
}

/**
 * Flagger prints the raw `maxWeight` (0 when unset, and the ignored one next to `stepWeights`);
 * we print the weight the canary really stops at, which is what a reader wants to know.
 */
function trafficRouting(settings: ProgressionSettings): string | undefined {
  switch (settings.strategy) {
    case 'ab-testing':
      return 'A/B Testing';
    case 'blue-green':
      return 'Blue/Green';
    case 'canary': {
      const max = effectiveMaxWeight(settings);
      if (settings.stepWeight > 0) return `Weight step: ${settings.stepWeight} max: ${max}`;
      if (settings.stepWeights.length > 0)
        return `Weight steps: ${settings.stepWeights.join(',')} max: ${max}`;
      // A canary without a step never advances: there is no routing worth describing.
      return undefined;
    }
  }
}

export type AlertDeliveryResult = 'sent' | 'failed' | 'skipped';

/** Where the router reports each delivery; `ControllerMetrics` implements it. */
export interface AlertDeliveryRecorder {
  countAlertDelivery(providerType: string, result: AlertDeliveryResult): void;
}

export interface AlertRouterDeps {
  readonly source: CanarySource;
  readonly notifiers: NotifierFactory;
  /** `--slack-url` / `--msteams-url`: used only by canaries without `analysis.alerts`. */
  readonly globalNotifier?: Notifier;
  readonly clusterName?: string;
  readonly meshProvider?: string;
  /** Structured log sink; entries carry `level`, `msg` and `canary` (`<name>.<namespace>`). */
  readonly log?: (entry: object) => void;
  readonly deliveries?: AlertDeliveryRecorder;
}

export interface SendOptions {
  /** See `AlertFieldOptions.metadata`. */
  readonly metadata?: boolean;
}

/** Provider type reported when no AlertProvider could be read, and for the global notifier. */
const UNKNOWN_PROVIDER_TYPE = 'unknown';
const GLOBAL_PROVIDER_TYPE = 'global';

/** A notifier ready to send, or the reason there is none (already logged). */
type Resolution =
  | { readonly ok: true; readonly notifier: Notifier; readonly providerType: string; readonly hide: Redactor }
  | { readonly ok: false; readonly providerType: string };

type Redactor = (text: string) => string;

interface ProviderRef {
  readonly namespace: string;
  readonly name: string;
}

export class AlertRouter {
  constructor(private readonly deps: AlertRouterDeps) {}

  /**
   * Sends `text` to every alert of the canary whose severity lets it through, or to the global
   * notifier when the canary has no alerts. Deliveries run concurrently and independently;
   * the promise resolves when all have finished and never rejects.
   */
  async send(
    canary: Canary,
    severity: AlertSeverity,
    text: string,
    options: SendOptions = {},
  ): Promise<void> {
    try {
      const message = this.messageFor(canary, severity, text, options);
      const alerts = analysisOf(canary.spec)?.alerts ?? [];
      const deliveries =
        alerts.length === 0
          ? [this.sendThroughGlobalNotifier(canary, message)]
          : alerts
              .filter((alert) => shouldSend(alert.severity, severity))
              .map((alert) => this.sendThroughProvider(canary, alert, message));
      await Promise.allSettled(deliveries);
    } catch (error) {
      // Only a malformed canary gets here; it must not take the tick down with it.
      this.log(canary, 'error', 'alert not sent', { error: describeError(error) });
    }
  }

  private messageFor(
    canary: Canary,
    severity: AlertSeverity,
    text: string,
    options: SendOptions,
  ): AlertMessage {
    return {
      canary: keyOf(canary),
      target: alertTarget(canary),
      severity,
      text,
      fields: alertFields(canary, {
        clusterName: this.deps.clusterName,
        meshProvider: this.deps.meshProvider,
        metadata: options.metadata,
      }),
    };
  }

  /** Flagger's global Slack/Teams notifier ignores severity: it gets every message. */
  private async sendThroughGlobalNotifier(canary: Canary, message: AlertMessage): Promise<void> {
    const notifier = this.deps.globalNotifier;
    if (notifier === undefined) return;
    await this.deliver(canary, notifier, message, { providerType: GLOBAL_PROVIDER_TYPE, hide: keepAsIs });
  }

  private async sendThroughProvider(
    canary: Canary,
    alert: CanaryAlert,
    message: AlertMessage,
  ): Promise<void> {
    const ref: ProviderRef = {
      namespace: alert.providerRef.namespace || keyOf(canary).namespace,
      name: alert.providerRef.name,
    };
    const resolution = await this.resolveNotifier(canary, alert, ref);
    if (!resolution.ok) {
      this.deps.deliveries?.countAlertDelivery(resolution.providerType, 'skipped');
      return;
    }
    await this.deliver(canary, resolution.notifier, message, {
      providerType: resolution.providerType,
      hide: resolution.hide,
      alert: alert.name,
      provider: formatRef(ref),
    });
  }

  /** Reads the AlertProvider and its Secret and builds the notifier, logging why when it cannot. */
  private async resolveNotifier(canary: Canary, alert: CanaryAlert, ref: ProviderRef): Promise<Resolution> {
    const context = { alert: alert.name, provider: formatRef(ref) };
    let provider: AlertProvider | undefined;
    try {
      provider = await this.deps.source.getAlertProvider(ref.namespace, ref.name);
    } catch (error) {
      this.log(canary, 'warn', 'alert provider could not be read', {
        ...context,
        error: describeError(error),
      });
      return { ok: false, providerType: UNKNOWN_PROVIDER_TYPE };
    }
    if (provider === undefined) {
      this.log(canary, 'warn', 'alert provider not found', context);
      return { ok: false, providerType: UNKNOWN_PROVIDER_TYPE };
    }

    const providerType = provider.spec.type ?? UNKNOWN_PROVIDER_TYPE;
    const secret = await this.readProviderSecret(canary, provider, ref, context);
    if (secret === SKIP) return { ok: false, providerType };

    const hide = redactorFor(provider, secret);
    try {
      return { ok: true, notifier: this.deps.notifiers.forProvider(provider, secret), providerType, hide };
    } catch (error) {
      this.log(canary, 'warn', 'alert provider rejected', { ...context, error: hide(describeError(error)) });
      return { ok: false, providerType };
    }
  }

  /**
   * The Secret named by `secretRef`, in the provider's namespace. Its `address` key overrides
   * `spec.address` and is required, as in Flagger: a Secret without it is a misconfiguration, and
   * falling back to `spec.address` could post to a URL the user meant to replace.
   */
  private async readProviderSecret(
    canary: Canary,
    provider: AlertProvider,
    ref: ProviderRef,
    context: object,
  ): Promise<Record<string, string> | undefined | typeof SKIP> {
    const secretName = provider.spec.secretRef?.name;
    if (secretName === undefined) return undefined;
    const secretContext = { ...context, secret: `${ref.namespace}/${secretName}` };
    let secret: Record<string, string> | undefined;
    try {
      secret = await this.deps.source.getSecret(ref.namespace, secretName);
    } catch (error) {
      this.log(canary, 'warn', 'alert provider secret could not be read', {
        ...secretContext,
        error: describeError(error),
      });
      return SKIP;
    }
    if (secret === undefined) {
      this.log(canary, 'warn', 'alert provider secret not found', secretContext);
      return SKIP;
    }
    if (secret.address === undefined || secret.address === '') {
      this.log(canary, 'warn', 'alert provider secret has no "address" key', secretContext);
      return SKIP;
    }
    return secret;
  }

  private async deliver(
    canary: Canary,
    notifier: Notifier,
    message: AlertMessage,
    target: { providerType: string; hide: Redactor; alert?: string; provider?: string },
  ): Promise<void> {
    const { providerType, hide, ...context } = target;
    try {
      const delivered = await notifier.send(message);
      this.deps.deliveries?.countAlertDelivery(providerType, delivered === false ? 'failed' : 'sent');
    } catch (error) {
      // Notifiers should not throw, but one that does must not hide the others' results.
      this.deps.deliveries?.countAlertDelivery(providerType, 'failed');
      this.log(canary, 'error', 'alert delivery failed', {
        ...context,
        providerType,
        error: hide(describeError(error)),
      });
    }
  }

  private log(canary: Canary, level: 'warn' | 'error', msg: string, fields: object): void {
    try {
      this.deps.log?.({ level, msg, canary: formatKey(keyOf(canary)), ...fields });
    } catch {
      // A broken log sink must not turn an alert problem into a failed tick.
    }
  }
}

/** Marks a provider whose Secret makes it unusable (logged where detected). */
const SKIP = Symbol('skip provider');

const formatRef = (ref: ProviderRef): string => `${ref.namespace}/${ref.name}`;

const keepAsIs: Redactor = (text) => text;

/** Shorter values are not credentials, and hiding them would garble the error text. */
const MIN_REDACTED_LENGTH = 4;

/**
 * Hides the provider's webhook URL, proxy and Secret values in error texts before they reach the
 * log: a Slack or Teams webhook URL is itself the credential, and HTTP clients like to quote it.
 */
function redactorFor(provider: AlertProvider, secret: Record<string, string> | undefined): Redactor {
  const sensitive = [provider.spec.address, provider.spec.proxy, ...Object.values(secret ?? {})]
    .filter((value): value is string => value !== undefined && value.length >= MIN_REDACTED_LENGTH)
    // Longest first, so a URL is hidden whole before a value it contains.
    .sort((a, b) => b.length - a.length);
  if (sensitive.length === 0) return keepAsIs;
  return (text) => sensitive.reduce((hidden, value) => hidden.split(value).join('[redacted]'), text);
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
