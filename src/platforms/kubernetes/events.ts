/**
 * Kubernetes Events on the Canary, as Flagger records them (docs/flagger-compatibility.md#8-telemetry): reason `Synced`,
 * component `flagger` (kubectl field selectors and runbooks written for Flagger keep working),
 * type Normal or Warning. A message repeated for the same canary bumps the count of the existing
 * Event instead of creating another, as client-go's event correlator does; the same text also
 * goes to the log and, when set, the event webhook (the engine does that).
 */
import type { Canary } from '../../api/schema/canary.js';
import type { EventSink, EventType } from '../../engine/ports.js';
import { kubernetesTime } from '../../engine/status.js';
import type { LogWriter } from '../../shared/logger.js';
import type { KubeClient, KubeObject } from './client.js';
import { RESOURCES } from './resources.js';

export const EVENT_COMPONENT = 'flagger';
export const EVENT_REASON = 'Synced';

interface Recorded {
  readonly name: string;
  count: number;
}

export type EventLogger = Pick<LogWriter, 'warn'>;

export class KubernetesEventSink implements EventSink {
  /** Recent events by canary uid + type + message; bounded so a long-running controller does not grow. */
  private readonly recorded = new Map<string, Recorded>();

  constructor(
    private readonly client: KubeClient,
    private readonly logger: EventLogger,
    private readonly now: () => Date = () => new Date(),
    private readonly capacity = 2_000,
  ) {}

  async emit(canary: Canary, type: EventType, message: string): Promise<void> {
    const namespace = canary.metadata.namespace ?? 'default';
    const uid = (canary.metadata as { uid?: string }).uid ?? '';
    const id = `${uid}\u0000${type}\u0000${message}`;
    const time = kubernetesTime(this.now());
    try {
      const previous = this.recorded.get(id);
      if (previous !== undefined) {
        previous.count += 1;
        await this.client.mergePatch(RESOURCES.events, namespace, previous.name, {
          count: previous.count,
          lastTimestamp: time,
        });
        return;
      }
      const created = await this.client.create<KubeObject>(RESOURCES.events, {
        metadata: { generateName: `${canary.metadata.name}.`, namespace } as KubeObject['metadata'],
        involvedObject: {
          apiVersion: 'flagger.app/v1beta1',
          kind: 'Canary',
          name: canary.metadata.name,
          namespace,
          uid,
          resourceVersion: (canary.metadata as { resourceVersion?: string }).resourceVersion,
        },
        reason: EVENT_REASON,
        message,
        type,
        source: { component: EVENT_COMPONENT },
        reportingComponent: EVENT_COMPONENT,
        count: 1,
        firstTimestamp: time,
        lastTimestamp: time,
      });
      this.remember(id, { name: created.metadata.name, count: 1 });
    } catch (error) {
      // An Event that could not be written (expired, RBAC) must not stop a canary: log it and go on.
      this.recorded.delete(id);
      this.logger.warn(
        { canary: `${canary.metadata.name}.${namespace}`, err: error, event: message },
        'event not recorded',
      );
    }
  }

  private remember(id: string, record: Recorded): void {
    if (this.recorded.size >= this.capacity) {
      const oldest = this.recorded.keys().next().value;
      if (oldest !== undefined) this.recorded.delete(oldest);
    }
    this.recorded.set(id, record);
  }
}
