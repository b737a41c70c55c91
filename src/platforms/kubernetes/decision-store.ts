/**
 * Decisions kept in the cluster: one ConfigMap per canary (`vireo-decisions-<canary>`, owned by
 * the Canary so it is collected with it) holding the last decisions as JSON. Not the Canary's
 * status: Flagger's CRDs prune fields their schema does not know. Why a ConfigMap, and its bounds,
 * are in docs/adr/0032-operations-cli-and-decision-records.md; `vireo explain` and `vireo status`
 * read it (docs/cli-operations.md).
 *
 * A tick never waits for, nor fails because of, this write: losing history must not stop a
 * rollback. Writes of one canary are serialised and coalesced (a write in flight carries every
 * decision recorded before it started); `flush` waits for them (the controller's shutdown).
 */
import { createHash } from 'node:crypto';
import type { Decision, DecisionLog } from '../../engine/decisions.js';
import type { CanaryKey } from '../../engine/ports.js';
import type { LogWriter } from '../../shared/logger.js';
import type { KubeClient, KubeObject } from './client.js';
import { isAlreadyExists, isConflict, isNotFound } from './errors.js';
import { RESOURCES } from './resources.js';

export const DECISIONS_KEY = 'decisions.json';
export const DECISIONS_LABEL = 'vireo.dev/decisions-of';
export const DEFAULT_DECISION_CAPACITY = 50;
/** Well under the 1 MiB of a ConfigMap, so one canary's history never nears the API's limit. */
export const DEFAULT_DECISION_BYTES = 256 * 1024;
/** A webhook's answer is evidence; past this it is cut (the event and the log carry it whole). */
const WEBHOOK_BODY_CHARS = 2048;
const NAME_PREFIX = 'vireo-decisions-';
const MAX_NAME = 253;

export interface ConfigMapObject extends KubeObject {
  data?: Record<string, string>;
}

/** The ConfigMap holding a canary's decisions; long names keep a hash so two canaries never share one. */
export function decisionsConfigMapName(canaryName: string): string {
  const name = `${NAME_PREFIX}${canaryName}`;
  if (name.length <= MAX_NAME) return name;
  const hash = createHash('sha256').update(canaryName).digest('hex').slice(0, 10);
  return `${name.slice(0, MAX_NAME - hash.length - 1).replace(/[.-]+$/, '')}-${hash}`;
}

/** The decisions a ConfigMap holds, oldest first; a damaged one reads as none (history, never the canary). */
export function decisionsOf(configMap: ConfigMapObject | undefined): Decision[] {
  const text = configMap?.data?.[DECISIONS_KEY];
  if (text === undefined) return [];
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? (parsed as Decision[]) : [];
  } catch {
    return [];
  }
}

/** Keeps the last `capacity` decisions within `maxBytes` of JSON: the oldest go first. */
export function boundDecisions(
  decisions: readonly Decision[],
  capacity: number,
  maxBytes: number,
): Decision[] {
  const kept = decisions.slice(-capacity).map(cutWebhookBody);
  let size = Buffer.byteLength(JSON.stringify(kept));
  while (kept.length > 1 && size > maxBytes) {
    const dropped = kept.shift();
    size -= Buffer.byteLength(JSON.stringify(dropped)) + 1;
  }
  return kept;
}

function cutWebhookBody(decision: Decision): Decision {
  const body = decision.webhook?.body;
  if (body === undefined || body.length <= WEBHOOK_BODY_CHARS) return decision;
  return {
    ...decision,
    webhook: { ...decision.webhook!, body: `${body.slice(0, WEBHOOK_BODY_CHARS)}… (cut)` },
  };
}

export interface ConfigMapDecisionLogOptions {
  readonly client: KubeClient;
  /** The Canary's uid (for the owner reference); undefined when it is gone, and then nothing is written. */
  readonly ownerUid: (key: CanaryKey) => string | undefined;
  readonly logger: Pick<LogWriter, 'warn'>;
  readonly capacity?: number;
  readonly maxBytes?: number;
}

interface CanaryHistory {
  decisions: Decision[];
  /** The ConfigMap as last read or written; undefined before the first read, null when there is none. */
  stored: ConfigMapObject | null | undefined;
  writing: Promise<void>;
  dirty: boolean;
}

export class ConfigMapDecisionLog implements DecisionLog {
  private readonly histories = new Map<string, CanaryHistory>();
  private readonly capacity: number;
  private readonly maxBytes: number;

  constructor(private readonly options: ConfigMapDecisionLogOptions) {
    this.capacity = options.capacity ?? DEFAULT_DECISION_CAPACITY;
    this.maxBytes = options.maxBytes ?? DEFAULT_DECISION_BYTES;
  }

  private historyOf(key: CanaryKey): CanaryHistory {
    const id = `${key.namespace}/${key.name}`;
    let history = this.histories.get(id);
    if (history === undefined) {
      history = { decisions: [], stored: undefined, writing: Promise.resolve(), dirty: false };
      this.histories.set(id, history);
    }
    return history;
  }

  record(key: CanaryKey, decision: Decision): Promise<void> {
    const history = this.historyOf(key);
    history.decisions.push(decision);
    history.decisions = history.decisions.slice(-this.capacity);
    if (!history.dirty) {
      history.dirty = true;
      history.writing = history.writing.then(() => this.write(key, history));
    }
    return Promise.resolve();
  }

  async recent(key: CanaryKey, limit = this.capacity): Promise<readonly Decision[]> {
    const history = this.historyOf(key);
    await history.writing;
    if (history.stored === undefined) await this.load(key, history);
    return history.decisions.slice(-limit);
  }

  /** Waits for every write started so far. */
  async flush(): Promise<void> {
    await Promise.all([...this.histories.values()].map((history) => history.writing));
  }

  /** Forgets a deleted canary (its ConfigMap goes with it, through the owner reference). */
  forget(key: CanaryKey): void {
    this.histories.delete(`${key.namespace}/${key.name}`);
  }

  /** After a restart the history continues from what the ConfigMap kept. */
  private async load(key: CanaryKey, history: CanaryHistory): Promise<void> {
    const configMap = await this.options.client.get<ConfigMapObject>(
      RESOURCES.configMaps,
      key.namespace,
      decisionsConfigMapName(key.name),
    );
    history.stored = configMap ?? null;
    history.decisions = mergeHistories(decisionsOf(configMap), history.decisions).slice(-this.capacity);
  }

  private async write(key: CanaryKey, history: CanaryHistory): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        if (history.stored === undefined) await this.load(key, history);
        history.dirty = false;
        await this.store(key, history);
        return;
      } catch (error) {
        // Someone else wrote (a previous leader): read theirs, keep ours after it, try again.
        if (isConflict(error) || isAlreadyExists(error) || isNotFound(error)) {
          history.stored = undefined;
          continue;
        }
        this.options.logger.warn(
          { canary: `${key.namespace}/${key.name}`, err: error },
          'decision history not stored; the event and the log still carry it',
        );
        return;
      }
    }
    this.options.logger.warn(
      { canary: `${key.namespace}/${key.name}` },
      'decision history not stored after 3 conflicting writes; the next decision tries again',
    );
  }

  private async store(key: CanaryKey, history: CanaryHistory): Promise<void> {
    const { client } = this.options;
    const decisions = boundDecisions(history.decisions, this.capacity, this.maxBytes);
    history.decisions = decisions;
    const data = { [DECISIONS_KEY]: JSON.stringify(decisions) };
    const stored = history.stored;
    if (stored !== null && stored !== undefined) {
      history.stored = await client.replace<ConfigMapObject>(RESOURCES.configMaps, { ...stored, data });
      return;
    }
    const uid = this.options.ownerUid(key);
    if (uid === undefined) return;
    history.stored = await client.create<ConfigMapObject>(RESOURCES.configMaps, {
      metadata: {
        name: decisionsConfigMapName(key.name),
        namespace: key.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'vireo', [DECISIONS_LABEL]: key.name },
        ownerReferences: [{ apiVersion: 'flagger.app/v1beta1', kind: 'Canary', name: key.name, uid }],
      },
      data,
    });
  }
}

/** The stored records, then ours that came after the last stored one (by time, then position). */
function mergeHistories(stored: readonly Decision[], ours: readonly Decision[]): Decision[] {
  const seen = new Set(stored.map((decision) => JSON.stringify(decision)));
  return [...stored, ...ours.filter((decision) => !seen.has(JSON.stringify(decision)))];
}
