/**
 * The operations port against local mode: it reads the state directory the daemon keeps (the
 * applied manifests, state.json's statuses, decisions/), so `vireo get`, `status` and `explain`
 * work whether or not the daemon runs. See docs/local/README.md for the directory's layout.
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { CanaryStatus } from '../../api/schema/canary.js';
import type { Decision } from '../../engine/decisions.js';
import { FileDecisionLog } from '../../engine/file-decision-log.js';
import { requestAnnotationValue } from '../../engine/operator-requests.js';
import { combineSources, readAppliedSources } from '../../platforms/local/applied-manifests.js';
import {
  readRequestFile,
  requestFileOf,
  withOperatorRequests,
  writeRequestFile,
} from '../../platforms/local/operator-requests.js';
import type { CanaryState } from '../../platforms/local/state.js';
import { workloadSpecHash } from '../../platforms/local/workload-spec.js';
import { createSystemClock, type Clock } from '../../shared/clock.js';
import { operatorRequestOf, receiptOf, refuseIfPaused, refuseIfPending } from './actions.js';
import {
  CanaryNotFoundError,
  type ActionReceipt,
  type ActionRequest,
  type CanaryActions,
  type CanaryChange,
  type CanaryObject,
  type CanaryScope,
  type OperationsBackend,
  type Revisions,
} from './port.js';
import { parseLabelSelector } from './selector.js';

const POLL_MS = 1000;

export class LocalBackend implements OperationsBackend, CanaryActions {
  readonly where: string;
  readonly defaultNamespace = 'default';
  private readonly decisionLog: FileDecisionLog;

  constructor(
    private readonly directory: string,
    private readonly pollMs = POLL_MS,
    private readonly now: () => Date = () => new Date(),
    private readonly clock: Pick<Clock, 'sleep'> = createSystemClock(),
  ) {
    this.where = `state directory ${directory}`;
    this.decisionLog = new FileDecisionLog(join(directory, 'decisions'));
  }

  private async states(): Promise<Record<string, CanaryState>> {
    const text = await readFile(join(this.directory, 'state.json'), 'utf8').catch(() => undefined);
    if (text === undefined) return {};
    try {
      return (JSON.parse(text) as { canaries?: Record<string, CanaryState> }).canaries ?? {};
    } catch {
      // The daemon renames whole files into place; an unreadable one is not ours to repair.
      return {};
    }
  }

  private async all(): Promise<{ canaries: CanaryObject[]; states: Record<string, CanaryState> }> {
    const [manifests, states] = await Promise.all([
      readAppliedSources(this.directory).then(combineSources),
      this.states(),
    ]);
    const canaries = await Promise.all(
      manifests.canaries.map(async (applied) => {
        const namespace = applied.metadata.namespace ?? 'default';
        const state = states[`${namespace}/${applied.metadata.name}`];
        const status: CanaryStatus | undefined = state?.status;
        // As the daemon sees it: the operator's request and its answer laid over the manifest.
        const canary = withOperatorRequests(
          applied,
          await readRequestFile(this.directory, { namespace, name: applied.metadata.name }),
          state?.requestDone,
        );
        return {
          ...canary,
          apiVersion: 'flagger.app/v1beta1' as const,
          kind: 'Canary' as const,
          metadata: { ...canary.metadata, namespace },
          ...(status === undefined ? {} : { status }),
        };
      }),
    );
    return { canaries, states };
  }

  async list(scope: CanaryScope): Promise<CanaryObject[]> {
    const matches = scope.selector === undefined ? () => true : parseLabelSelector(scope.selector);
    return (await this.all()).canaries.filter(
      (canary) =>
        (scope.allNamespaces || canary.metadata.namespace === scope.namespace) &&
        matches(canary.metadata.labels),
    );
  }

  async get(namespace: string, name: string): Promise<CanaryObject> {
    const found = (await this.all()).canaries.find(
      (canary) => canary.metadata.namespace === namespace && canary.metadata.name === name,
    );
    if (found === undefined) throw new CanaryNotFoundError(namespace, name, this.where);
    return found;
  }

  async decisions(namespace: string, name: string): Promise<Decision[]> {
    return [...(await this.decisionLog.recent({ namespace, name }))];
  }

  /**
   * Writes `<state-dir>/requests/<namespace>_<name>.json`, which the daemon reads on its next
   * tick (src/platforms/local/operator-requests.ts); the applied manifest is left as it is.
   */
  async act(namespace: string, name: string, request: ActionRequest): Promise<ActionReceipt> {
    const operatorRequest = operatorRequestOf(request, request.by ?? localUser(), this.now());
    const canary = await this.get(namespace, name);
    refuseIfPaused(canary, request.action);
    const key = { namespace, name };
    refuseIfPending(canary, `rm ${requestFileOf(this.directory, key)}`);
    const previous = await readRequestFile(this.directory, key);
    const suspend =
      request.action === 'pause' ? true : request.action === 'resume' ? false : previous.suspend;
    await writeRequestFile(this.directory, key, {
      request: requestAnnotationValue(operatorRequest),
      ...(suspend === undefined ? {} : { suspend }),
    });
    return receiptOf(operatorRequest);
  }

  async revisions(canary: CanaryObject): Promise<Revisions> {
    const state = (await this.states())[`${canary.metadata.namespace ?? 'default'}/${canary.metadata.name}`];
    return {
      ...(state?.primarySpec === undefined
        ? {}
        : { primary: `spec ${workloadSpecHash(state.primarySpec).slice(0, 8)}` }),
      ...(state?.canarySpec === undefined
        ? {}
        : { canary: `spec ${workloadSpecHash(state.canarySpec).slice(0, 8)}` }),
    };
  }

  /** Polls the state directory: local mode has no watch API, and a second is what a terminal needs. */
  async watch(
    scope: CanaryScope,
    onChange: (change: CanaryChange, canary: CanaryObject) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const key = (canary: CanaryObject) => `${canary.metadata.namespace}/${canary.metadata.name}`;
    let seen = new Map((await this.list(scope)).map((canary) => [key(canary), JSON.stringify(canary)]));
    while (!signal.aborted) {
      await this.clock.sleep(this.pollMs, signal);
      if (signal.aborted) return;
      const now = await this.list(scope);
      const next = new Map(now.map((canary) => [key(canary), JSON.stringify(canary)]));
      for (const canary of now) {
        const before = seen.get(key(canary));
        if (before === undefined) onChange('ADDED', canary);
        else if (before !== next.get(key(canary))) onChange('MODIFIED', canary);
      }
      for (const [id, text] of seen) if (!next.has(id)) onChange('DELETED', JSON.parse(text) as CanaryObject);
      seen = next;
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The OS user, recorded as `by`; a process without a passwd entry falls back to $USER. */
function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env['USER'] ?? 'unknown';
  }
}
