/**
 * Operators' requests on a canary (docs/adr/0032-operations-cli-and-decision-records.md, decision 3):
 * `vireo promote|abort|retry` write a one-shot annotation `vireo.dev/request` (JSON: action, id,
 * by, reason, at); `vireo pause|resume` write Flagger's `spec.suspend` and the same annotation, so
 * that who paused and why is audited too. The engine honours a request on its next tick, records
 * a decision, and answers with `vireo.dev/request-done: <id>`, so a request is honoured once, also
 * across restarts and leader changes. The rule of what is pending, and what each request does in
 * each phase, is kept here once: the CLI, the dashboard and both platforms use it.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { CanaryPhase } from '../api/schema/canary.js';

export const REQUEST_ANNOTATION = 'vireo.dev/request';
export const REQUEST_DONE_ANNOTATION = 'vireo.dev/request-done';

export const REQUESTED_ACTIONS = ['promote', 'abort', 'pause', 'resume', 'retry'] as const;
export type RequestedAction = (typeof REQUESTED_ACTIONS)[number];

/** The annotation's content. */
export interface OperatorRequest {
  readonly action: RequestedAction;
  /** Unique per request; the controller's `request-done` answer carries it. */
  readonly id: string;
  readonly by: string;
  readonly reason: string;
  /** ISO 8601, when it was written. */
  readonly at: string;
}

/** Kept in the decision that answers a request (`vireo explain` shows it). */
export interface RequestRecord extends OperatorRequest {
  /** False when the request could not apply in the canary's phase (the message says why). */
  readonly honoured: boolean;
}

export const MAX_REASON_LENGTH = 1024;
const MAX_BY_LENGTH = 256;
const MAX_ID_LENGTH = 128;

export type PendingRequest =
  | { readonly kind: 'none' }
  | { readonly kind: 'request'; readonly request: OperatorRequest }
  /** `id` is derived from the annotation's text, so the same bad value is reported once. */
  | { readonly kind: 'malformed'; readonly id: string; readonly problem: string };

export function newRequestId(): string {
  return randomUUID();
}

/** The annotation's value for a request, as the CLI and the dashboard write it. */
export function requestAnnotationValue(request: OperatorRequest): string {
  return JSON.stringify({
    action: request.action,
    id: request.id,
    by: request.by,
    reason: request.reason,
    at: request.at,
  });
}

/**
 * Checks a request's content; returns what is wrong (naming the field) or the request. Used by
 * the writers (to refuse bad input before writing) and by the engine (on whatever was written).
 */
export function parseRequest(value: unknown): OperatorRequest | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'it is not a JSON object';
  const fields = value as Record<string, unknown>;
  const action = fields['action'];
  if (typeof action !== 'string' || !(REQUESTED_ACTIONS as readonly string[]).includes(action))
    return `"action" must be one of ${REQUESTED_ACTIONS.join(', ')}`;
  const text = (name: string, max: number): string | undefined => {
    const field = fields[name];
    return typeof field === 'string' && field.trim() !== '' && field.length <= max ? field : undefined;
  };
  const id = text('id', MAX_ID_LENGTH);
  if (id === undefined) return `"id" must be a non-empty string of at most ${MAX_ID_LENGTH} characters`;
  const by = text('by', MAX_BY_LENGTH);
  if (by === undefined) return `"by" must be a non-empty string of at most ${MAX_BY_LENGTH} characters`;
  const reason = text('reason', MAX_REASON_LENGTH);
  if (reason === undefined)
    return `"reason" must be a non-empty string of at most ${MAX_REASON_LENGTH} characters`;
  const at = fields['at'];
  if (typeof at !== 'string' || Number.isNaN(Date.parse(at))) return '"at" must be an ISO 8601 time';
  return { action: action as RequestedAction, id, by, reason, at };
}

/** The request a canary's annotations carry that the controller has not answered yet. */
export function pendingRequest(annotations: Readonly<Record<string, string>> | undefined): PendingRequest {
  const text = annotations?.[REQUEST_ANNOTATION];
  if (text === undefined || text.trim() === '') return { kind: 'none' };
  const done = annotations?.[REQUEST_DONE_ANNOTATION];
  let parsed: unknown;
  let problem: string | undefined;
  try {
    parsed = JSON.parse(text);
  } catch {
    problem = 'it is not JSON';
  }
  const request = problem === undefined ? parseRequest(parsed) : problem;
  if (typeof request === 'string') {
    const id = `invalid-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
    return id === done ? { kind: 'none' } : { kind: 'malformed', id, problem: request };
  }
  return request.id === done ? { kind: 'none' } : { kind: 'request', request };
}

export function malformedRequestMessage(canaryName: string, problem: string): string {
  return `Ignoring annotation ${REQUEST_ANNOTATION} on ${canaryName}: ${problem}; write it with vireo promote|abort|pause|resume|retry NAME --reason "..." (docs/cli-operations.md)`;
}

const ANALYSIS_PHASES: ReadonlySet<CanaryPhase> = new Set(['Progressing', 'WaitingPromotion']);
const PROMOTABLE_PHASES: ReadonlySet<CanaryPhase> = new Set([
  'Progressing',
  'Waiting',
  'WaitingPromotion',
  'Promoting',
  'Finalising',
]);

/** What a tick does with a request: act on it, or only record it (with why, when it cannot apply). */
export type RequestPlan =
  | { readonly kind: 'promote' | 'abort' | 'retry'; readonly message: string; readonly next: string }
  | { readonly kind: 'note'; readonly honoured: boolean; readonly message: string; readonly next: string };

/**
 * The rule: promote skips the rest of an analysis under way (as `skipAnalysis` does); abort rolls
 * an analysis (or a revision waiting for approval) back at once; retry reruns a Failed revision
 * as if it were new; pause and resume are Flagger's `spec.suspend`, which the engine already
 * honours, so their request is only recorded. A paused canary answers every request (the others
 * as not honoured), so none waits unseen. A request that cannot apply in the phase is
 * recorded as not honoured, with the reason, and answered all the same (it is one-shot).
 */
export function planRequest(
  request: OperatorRequest,
  state: { readonly phase: CanaryPhase; readonly suspended: boolean; readonly canaryName: string },
): RequestPlan {
  const who = `${request.action} requested by ${request.by} (${request.reason})`;
  const phase = state.phase === '' ? 'not initialized' : state.phase;
  const cannot = (why: string, next: string): RequestPlan => ({
    kind: 'note',
    honoured: false,
    message: `Not honouring ${who} for ${state.canaryName}: ${why}`,
    next,
  });
  if (state.suspended && request.action !== 'pause' && request.action !== 'resume')
    return cannot('it is paused (spec.suspend: true): vireo resume it first', 'nothing until it is resumed');
  switch (request.action) {
    case 'pause':
      return state.suspended
        ? {
            kind: 'note',
            honoured: true,
            message: `Paused ${state.canaryName}: ${who}; the weight holds and no check runs`,
            next: 'nothing until vireo resume (spec.suspend: false)',
          }
        : cannot('spec.suspend is false again (resumed since)', 'the analysis goes on');
    case 'resume':
      return state.suspended
        ? cannot('spec.suspend is still true', 'nothing until spec.suspend is false')
        : {
            kind: 'note',
            honoured: true,
            message: `Resumed ${state.canaryName}: ${who}`,
            next: 'the analysis goes on from where it was held',
          };
    case 'promote':
      return PROMOTABLE_PHASES.has(state.phase)
        ? {
            kind: 'promote',
            message: `Promoting ${state.canaryName} without further checks: ${who}`,
            next: 'the primary runs the new spec now',
          }
        : cannot(`phase ${phase} has no revision under analysis to promote`, 'waits for a new revision');
    case 'abort':
      return ANALYSIS_PHASES.has(state.phase) || state.phase === 'Waiting'
        ? {
            kind: 'abort',
            message: `Rolling back ${state.canaryName}: ${who}`,
            next: 'waits for a new revision of the target (or vireo retry)',
          }
        : cannot(`phase ${phase} has no analysis under way to abort`, 'nothing changes');
    case 'retry':
      return state.phase === 'Failed'
        ? {
            kind: 'retry',
            message: `Retrying the failed revision of ${state.canaryName}: ${who}`,
            next: 'the analysis starts again from weight 0',
          }
        : cannot(`phase ${phase} is not Failed: only a failed revision is retried`, 'nothing changes');
  }
}

/** The rollback alert of an abort (warn, as a manual rollback webhook's). */
export function abortAlertText(request: OperatorRequest): string {
  return `Rolling back: abort requested by ${request.by}: ${request.reason}`;
}
