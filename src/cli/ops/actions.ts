/**
 * What both backends' `act` share (docs/adr/0032-operations-cli-and-decision-records.md, decision 3):
 * checking the request, refusing to replace a request the controller has not answered yet, and
 * the receipt. The rule of what is pending is the engine's own (src/engine/operator-requests.ts).
 */
import {
  MAX_REASON_LENGTH,
  newRequestId,
  parseRequest,
  pendingRequest,
  REQUEST_ANNOTATION,
  type OperatorRequest,
} from '../../engine/operator-requests.js';
import { UsageError } from '../../shared/errors.js';
import { printable } from '../../shared/printable.js';
import {
  CanaryPausedError,
  RequestPendingError,
  type ActionReceipt,
  type ActionRequest,
  type CanaryObject,
} from './port.js';

/** The request to write, checked as the engine will check it. */
export function operatorRequestOf(request: ActionRequest, by: string, now: Date): OperatorRequest {
  const reason = request.reason.trim();
  if (reason === '')
    throw new UsageError('--reason: say why (it is kept in the decision history): --reason "..."');
  if (reason.length > MAX_REASON_LENGTH)
    throw new UsageError(`--reason: at most ${MAX_REASON_LENGTH} characters (it has ${reason.length})`);
  const candidate = {
    action: request.action,
    id: newRequestId(),
    by: by.trim() === '' ? 'unknown' : by.trim().slice(0, 256),
    reason,
    at: now.toISOString(),
  };
  const checked = parseRequest(candidate);
  if (typeof checked === 'string') throw new UsageError(`the request is not valid: ${checked}`);
  return checked;
}

/**
 * A request the controller has not answered yet would be replaced without ever being honoured
 * or recorded: refuse, and say how to go on. `clear` says how to remove it on this backend.
 */
export function refuseIfPending(canary: CanaryObject, clear: string): void {
  const pending = pendingRequest(canary.metadata.annotations);
  if (pending.kind === 'none') return;
  const what =
    pending.kind === 'request'
      ? `a ${pending.request.action} request by ${printable(pending.request.by)} (id ${printable(pending.request.id)}, at ${printable(pending.request.at)})`
      : `a malformed ${REQUEST_ANNOTATION} annotation`;
  throw new RequestPendingError(
    `canary ${printable(canary.metadata.name)} in namespace ${printable(canary.metadata.namespace ?? 'default')} has ${what} the controller has not answered yet (is it running?): wait for it (vireo explain shows the answer), or remove it with ${clear}`,
  );
}

/** promote, abort and retry do nothing on a paused canary: say so before writing. */
export function refuseIfPaused(canary: CanaryObject, action: ActionRequest['action']): void {
  if (canary.spec.suspend !== true || action === 'pause' || action === 'resume') return;
  throw new CanaryPausedError(
    `canary ${printable(canary.metadata.name)} in namespace ${printable(canary.metadata.namespace ?? 'default')} is paused (spec.suspend: true): the controller does not ${action} a paused canary; vireo resume it first`,
  );
}

export function receiptOf(request: OperatorRequest): ActionReceipt {
  const suspend =
    request.action === 'pause'
      ? 'spec.suspend: true and '
      : request.action === 'resume'
        ? 'spec.suspend: false and '
        : '';
  return {
    id: request.id,
    action: request.action,
    by: request.by,
    reason: request.reason,
    at: request.at,
    wrote: `${suspend}annotation ${REQUEST_ANNOTATION}`,
  };
}
