/**
 * Local mode's JSON-lines log in the state directory: `events.log` has every event, decision and
 * alert as it happens, `alerts.log` the alerts alone; the demo's live view gets each one too.
 * A full disk loses log lines, never a canary.
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Canary } from '../../api/schema/canary.js';
import type { Decision } from '../../engine/decisions.js';
import { formatKey, keyOf, type AlertSeverity, type CanaryKey, type EventType } from '../../engine/ports.js';

export interface LocalEvent {
  readonly time: string;
  readonly type: 'event' | 'decision' | 'alert';
  readonly canary: string;
  readonly severity?: EventType | AlertSeverity;
  readonly message: string;
  readonly decision?: Decision;
}

/** Appends JSON lines; a full disk loses log lines, never a canary. */
class JsonLinesLog {
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  append(entry: object): void {
    const line = `${JSON.stringify(entry)}\n`;
    this.pending = this.pending
      .then(() => appendFile(this.file, line, { mode: 0o600 }))
      .catch(() => undefined);
  }

  flush(): Promise<void> {
    return this.pending;
  }
}

export class LocalEventLog {
  private readonly events: JsonLinesLog;
  private readonly alerts: JsonLinesLog;

  constructor(
    directory: string,
    /** Engine-clock epoch ms. */
    private readonly now: () => number,
    /** Every event, decision and alert, as it happens (the demo's live view). */
    private readonly onEvent?: (event: LocalEvent) => void,
  ) {
    this.events = new JsonLinesLog(join(directory, 'events.log'));
    this.alerts = new JsonLinesLog(join(directory, 'alerts.log'));
  }

  event(canary: Canary, type: EventType, message: string): void {
    this.emit({
      time: this.time(),
      type: 'event',
      canary: formatKey(keyOf(canary)),
      severity: type,
      message,
    });
  }

  /** Every alert lands here as the engine sends it, whatever the AlertProviders do with it. */
  alert(canary: Canary, severity: AlertSeverity, text: string): void {
    const entry: LocalEvent = {
      time: this.time(),
      type: 'alert',
      canary: formatKey(keyOf(canary)),
      severity,
      message: text,
    };
    this.alerts.append(entry);
    this.emit(entry);
  }

  decision(key: CanaryKey, decision: Decision): void {
    this.emit({
      time: decision.time,
      type: 'decision',
      canary: formatKey(key),
      message: decision.message,
      decision,
    });
  }

  flush(): Promise<void> {
    return Promise.all([this.events.flush(), this.alerts.flush()]).then(() => undefined);
  }

  private time(): string {
    return new Date(this.now()).toISOString();
  }

  private emit(event: LocalEvent): void {
    this.events.append(event);
    try {
      this.onEvent?.(event);
    } catch {
      // A broken listener must not stop the canary it listens to.
    }
  }
}
