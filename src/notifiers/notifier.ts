/**
 * What the chat notifiers share, beyond the `Notifier` port: the settings resolved from an
 * AlertProvider and its Secret, the dependencies they are given, and `HttpChatNotifier`, which
 * turns a payload builder into a notifier that POSTs, retries, logs and counts.
 *
 * Contract (ports.ts): `send` never throws and never takes longer than the transport allows
 * (3 attempts of 5 s plus 3 s of backoff). `deliver` is the same POST with the result returned,
 * for `vireo alert test`, which must show the chat service's answer.
 */
import type { AlertMessage, Notifier } from '../engine/ports.js';
import { postJson, type PostResult, type TransportOptions } from './transport.js';

/** An AlertProvider and its Secret, reduced to what a notifier needs. */
export interface ProviderSettings {
  /** `<namespace>/<name>` of the AlertProvider: what logs name instead of the URL. */
  readonly id: string;
  readonly type: string;
  /** Webhook URL: the Secret's `address` when set, else `spec.address`. A credential. */
  readonly address: string;
  /** Flagger's default `general`. */
  readonly channel: string;
  /** Flagger's default `flagger`: users filter chat history on it. */
  readonly username: string;
  readonly proxy?: string | undefined;
  /** The Secret's `token` (Slack only: sent as `Authorization: Bearer`). */
  readonly token?: string | undefined;
}

export interface NotifierLogEntry {
  readonly level: 'error';
  readonly msg: string;
  readonly provider: string;
  readonly providerType: string;
  readonly status: number;
  readonly attempts: number;
  readonly error?: string;
}

export interface NotifierDeps {
  /** Structured log sink (the controller passes its pino logger's `error`). */
  readonly log?: (entry: NotifierLogEntry) => void;
  /**
   * Told how many requests were sent again for one message (attempts beyond the first), whether
   * it was delivered in the end or not; the controller counts them in `vireo_alert_retries_total`.
   */
  readonly countRetries?: (providerType: string, retries: number) => void;
  readonly transport?: TransportOptions;
  /** For payloads that carry a time (generic). */
  readonly now?: () => Date;
}

/** A notifier that can also say what the chat service answered. */
export interface ChatNotifier extends Notifier {
  readonly providerType: string;
  deliver(message: AlertMessage): Promise<PostResult>;
}

/** The request a notifier sends for one message. */
export interface ChatRequest {
  readonly url: string;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** `<name>.<namespace>`, the subject of every chat message (docs/flagger-compatibility.md#7-alerts). */
export const subjectOf = (message: AlertMessage): string =>
  `${message.canary.name}.${message.canary.namespace}`;

export class HttpChatNotifier implements ChatNotifier {
  constructor(
    private readonly settings: ProviderSettings,
    private readonly render: (message: AlertMessage) => ChatRequest,
    private readonly deps: NotifierDeps = {},
  ) {}

  get providerType(): string {
    return this.settings.type;
  }

  async deliver(message: AlertMessage): Promise<PostResult> {
    const request = this.render(message);
    return postJson({ ...request, proxy: this.settings.proxy }, this.deps.transport);
  }

  /** Resolves false (after logging why) when the message was not delivered; the AlertRouter counts it. */
  async send(message: AlertMessage): Promise<boolean> {
    try {
      const result = await this.deliver(message);
      this.reportRetries(result);
      if (!result.ok) this.reportFailure(result);
      return result.ok;
    } catch (error) {
      // postJson does not throw; a payload builder that does must still not reach the engine.
      this.reportFailure({ ok: false, status: 0, body: '', attempts: 0, error: String(error) });
      return false;
    }
  }

  private reportRetries(result: PostResult): void {
    if (result.attempts <= 1) return;
    try {
      this.deps.countRetries?.(this.settings.type, result.attempts - 1);
    } catch {
      // Counting is a courtesy too: it must not turn a delivered alert into a failed tick.
    }
  }

  private reportFailure(result: PostResult): void {
    try {
      this.deps.log?.({
        level: 'error',
        msg: 'alert not delivered',
        provider: this.settings.id,
        providerType: this.settings.type,
        status: result.status,
        attempts: result.attempts,
        // Never the URL nor the response body: both can quote the webhook's secret path.
        ...(result.error === undefined ? {} : { error: result.error }),
      });
    } catch {
      // A broken log sink must not turn a lost alert into a failed tick.
    }
  }
}
