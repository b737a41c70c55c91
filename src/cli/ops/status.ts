/**
 * `vireo status NAME`: where a canary stands and why, from its status, its kept decisions and its
 * workloads: phase and time in it, weights, iteration, failed checks against the threshold, each
 * check's last value against its range, gates and webhooks with their last answers, the primary's
 * and the canary's revisions, and the next action with roughly when (docs/cli-operations.md).
 */
import { formatDuration, parseGoDuration } from '../../api/duration.js';
import type { Decision } from '../../engine/decisions.js';
import { pendingRequest } from '../../engine/operator-requests.js';
import { printable } from '../../shared/printable.js';
import { clockOf, describeCheck } from './explain.js';
import type { CanaryObject, Revisions } from './port.js';

export interface StatusView {
  readonly canary: CanaryObject;
  readonly decisions: readonly Decision[];
  readonly revisions: Revisions;
}

const GATES = new Set(['confirm-rollout', 'confirm-traffic-increase', 'confirm-promotion', 'rollback']);

export function formatStatus(view: StatusView, now: Date): string {
  const { canary, decisions, revisions } = view;
  const status = canary.status ?? {};
  const analysis = canary.spec.analysis;
  const last = decisions.at(-1);
  const rows: [string, string][] = [];
  rows.push([
    'Name',
    `${printable(canary.metadata.name)} in namespace ${printable(canary.metadata.namespace ?? 'default')}`,
  ]);
  const since = status.lastTransitionTime === undefined ? undefined : Date.parse(status.lastTransitionTime);
  const inPhase =
    since === undefined || Number.isNaN(since)
      ? ''
      : ` for ${formatDuration(Math.max(0, now.getTime() - since))} (since ${printable(status.lastTransitionTime ?? '')})`;
  rows.push(['Phase', `${printable(status.phase ?? 'not initialized yet')}${inPhase}`]);
  if (canary.spec.suspend === true)
    rows.push(['Suspended', 'yes: the controller skips this canary (spec.suspend)']);
  const pending = pendingRequest(canary.metadata.annotations);
  if (pending.kind === 'request')
    rows.push([
      'Request',
      `${pending.request.action} by ${printable(pending.request.by)} at ${clockOf(pending.request.at)} UTC (${printable(pending.request.reason)}), not answered by the controller yet`,
    ]);
  else if (pending.kind === 'malformed')
    rows.push(['Request', `annotation vireo.dev/request is malformed: ${pending.problem}`]);
  rows.push([
    'Weights',
    `canary ${status.canaryWeight ?? 0}%, primary ${100 - (status.canaryWeight ?? 0)}%${last === undefined ? '' : ` (routes at the last decision: ${last.canaryWeight}/${last.primaryWeight})`}`,
  ]);
  rows.push(['Iteration', String(status.iterations ?? 0)]);
  rows.push([
    'Failed checks',
    `${status.failedChecks ?? 0} of ${analysis?.threshold ?? '?'} (rollback at the threshold)`,
  ]);
  rows.push(['Primary', printable(revisions.primary ?? status.lastPromotedSpec ?? '(none yet)')]);
  rows.push(['Canary', printable(revisions.canary ?? status.lastAppliedSpec ?? '(none yet)')]);
  if (revisions.note !== undefined) rows.push(['Revisions', `not read: ${printable(revisions.note)}`]);
  const promoted = status.conditions?.find((condition) => condition.type === 'Promoted');
  if (promoted !== undefined)
    rows.push([
      'Condition',
      `Promoted=${promoted.status} ${printable(promoted.reason ?? '')}: ${printable(promoted.message ?? '')}`,
    ]);

  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  let text = rows.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}\n`).join('');

  const lastChecks = [...decisions].reverse().find((decision) => (decision.checks?.length ?? 0) > 0);
  text += '\nChecks';
  if (lastChecks === undefined) {
    const names = (analysis?.metrics ?? []).map((metric) => metric.name);
    text +=
      names.length === 0 ? ': none configured\n' : `: ${names.map(printable).join(', ')}, not measured yet\n`;
  } else {
    text += ` (last measured at ${clockOf(lastChecks.time)} UTC):\n`;
    for (const check of lastChecks.checks ?? []) text += `  ${describeCheck(check)}\n`;
  }

  const webhooks = analysis?.webhooks ?? [];
  if (webhooks.length > 0) {
    text += '\nGates and webhooks (last answer):\n';
    for (const hook of webhooks) {
      const type = hook.type ?? 'rollout';
      const answer = [...decisions]
        .reverse()
        .find((decision) => decision.webhook?.name === hook.name)?.webhook;
      const answeredAt = [...decisions]
        .reverse()
        .find((decision) => decision.webhook?.name === hook.name)?.time;
      const state =
        answer === undefined
          ? 'no answer recorded'
          : `${answer.status === 0 ? 'no answer' : `HTTP ${answer.status}`}${GATES.has(type) ? (answer.status >= 200 && answer.status < 300 ? ' (open)' : ' (closed)') : ''} at ${clockOf(answeredAt ?? '')} UTC${answer.body.trim() === '' ? '' : `: ${printable(answer.body.trim().slice(0, 120))}`}`;
      text += `  ${printable(hook.name)} (${type}): ${state}\n`;
    }
  }

  text += '\n';
  if (last === undefined) text += 'Last decision: none kept yet\n';
  else {
    text += `Last decision: ${clockOf(last.time)} UTC ${last.action}: ${printable(last.message)}\n`;
    const interval = parseGoDuration(analysis?.interval ?? '');
    const due =
      interval === undefined || Number.isNaN(Date.parse(last.time))
        ? ''
        : ` (next tick around ${clockOf(new Date(Date.parse(last.time) + interval).toISOString())} UTC)`;
    text += `Next:          ${printable(last.next || 'nothing scheduled')}${due}\n`;
  }
  return text;
}
