/**
 * Explained decisions: every advance, halt, rollback and promotion is recorded with what was
 * measured, against what, and what happens next. "Why did it halt?" (Flagger #1815) is answered by
 * the last records of a canary, which the CLI and the dashboard read from a DecisionLog.
 */
import type { CanaryPhase } from '../api/schema/canary.js';
import type { CheckOutcome } from './checks.js';
import type { RequestRecord } from './operator-requests.js';
import type { CanaryKey } from './ports.js';

export type DecisionAction =
  | 'initialize'
  | 'start'
  | 'wait'
  | 'advance'
  | 'halt'
  /** A judge needs more evidence: the weight holds and no failed check is counted. */
  | 'hold'
  | 'restart'
  | 'rollback'
  | 'promote'
  | 'shift-to-primary'
  | 'succeed'
  | 'fail-promotion'
  | 'skip-analysis'
  | 'terminate'
  /** An operator's request (vireo promote, abort, pause, resume, retry) and who asked why. */
  | 'request';

export interface WebhookEvidence {
  readonly name: string;
  readonly type: string;
  readonly status: number;
  readonly body: string;
}

export interface Decision {
  readonly time: string;
  readonly canary: string;
  readonly action: DecisionAction;
  /** Phase after the decision. */
  readonly phase: CanaryPhase;
  /** One line, the same text as the Kubernetes event. */
  readonly message: string;
  readonly canaryWeight: number;
  readonly primaryWeight: number;
  readonly iteration: number;
  readonly failedChecks: number;
  readonly threshold: number;
  readonly checks?: readonly CheckOutcome[];
  readonly webhook?: WebhookEvidence;
  /** The operator's request this decision answers (action `request`). */
  readonly request?: RequestRecord;
  /** What happens next, in words: "next step in 1m", "rollback after 2 more failed checks". */
  readonly next: string;
}

/** Where decisions are kept. Implementations keep at least the last `capacity` per canary. */
export interface DecisionLog {
  record(key: CanaryKey, decision: Decision): Promise<void>;
  /** The most recent decisions of a canary, oldest first. */
  recent(key: CanaryKey, limit?: number): Promise<readonly Decision[]>;
  /** Waits for records still being stored (a log that stores in the background); the assembly's close calls it. */
  flush?(): Promise<void>;
}

/** Keeps the last decisions of each canary in memory (local mode, tests). */
export class InMemoryDecisionLog implements DecisionLog {
  private readonly byCanary = new Map<string, Decision[]>();

  constructor(private readonly capacity = 50) {}

  record(key: CanaryKey, decision: Decision): Promise<void> {
    const id = `${key.namespace}/${key.name}`;
    const kept = this.byCanary.get(id) ?? [];
    kept.push(decision);
    if (kept.length > this.capacity) kept.splice(0, kept.length - this.capacity);
    this.byCanary.set(id, kept);
    return Promise.resolve();
  }

  recent(key: CanaryKey, limit = this.capacity): Promise<readonly Decision[]> {
    return Promise.resolve((this.byCanary.get(`${key.namespace}/${key.name}`) ?? []).slice(-limit));
  }
}
