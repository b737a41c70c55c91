/**
 * The controller's answer to an operator's request (src/engine/operator-requests.ts): the
 * annotation `vireo.dev/request-done: <id>` on the Canary, by a merge patch (the metadata only; the
 * spec and status stay the users' and the status store's). The new resourceVersion is recorded as
 * our own write, so the next tick reads the Canary fresh rather than from a cache that may still
 * show the request unanswered (OwnStatusWrites in status-store.ts).
 */
import { REQUEST_DONE_ANNOTATION } from '../../engine/operator-requests.js';
import type { CanaryKey, RequestAcknowledger } from '../../engine/ports.js';
import { FIELD_MANAGER, type KubeClient, type KubeObject } from './client.js';
import { RESOURCES } from './resources.js';
import type { OwnStatusWrites } from './status-store.js';

export class KubernetesRequestAcknowledger implements RequestAcknowledger {
  constructor(
    private readonly client: Pick<KubeClient, 'mergePatch'>,
    private readonly ownWrites: Pick<OwnStatusWrites, 'record'>,
  ) {}

  async acknowledge(key: CanaryKey, id: string): Promise<void> {
    const updated = await this.client.mergePatch<KubeObject>(
      RESOURCES.canaries,
      key.namespace,
      key.name,
      { metadata: { annotations: { [REQUEST_DONE_ANNOTATION]: id } } },
      undefined,
      FIELD_MANAGER,
    );
    this.ownWrites.record(key, updated.metadata.resourceVersion);
  }
}
