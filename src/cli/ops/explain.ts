/**
 * `vireo explain NAME`: a canary's kept decisions as a timeline a person reads top to bottom,
 * each with the checks behind it (measured value against its range, and the sample where the
 * check reports one), the failed-check count against the threshold, a webhook's answer, and what
 * happens next (docs/cli-operations.md "vireo explain").
 */
import type { CheckOutcome } from '../../engine/checks.js';
import type { Decision } from '../../engine/decisions.js';
import { parseGoDuration } from '../../api/duration.js';
import { UsageError } from '../../shared/errors.js';
import { printable } from '../../shared/printable.js';

/** `--since`: a Go duration back from now (`10m`, `1h30m`) or an RFC 3339 time. */
export function parseSince(text: string, now: Date): Date {
  const duration = parseGoDuration(text);
  if (duration !== undefined && duration >= 0) return new Date(now.getTime() - duration);
  const time = Date.parse(text);
  if (/^\d{4}-\d{2}-\d{2}T/.test(text) && !Number.isNaN(time)) return new Date(time);
  throw new UsageError(
    `--since: "${printable(text)}" is neither a duration (10m, 1h30m) nor an RFC 3339 time (2026-12-06T12:00:00Z)`,
  );
}

export function decisionsSince(decisions: readonly Decision[], since: Date | undefined): Decision[] {
  if (since === undefined) return [...decisions];
  return decisions.filter((decision) => Date.parse(decision.time) >= since.getTime());
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) >= 100 ? 1 : 2);
}

function unitText(value: number, unit: string | undefined): string {
  if (unit === undefined || unit === '') return formatNumber(value);
  return unit === '%' ? `${formatNumber(value)}%` : `${formatNumber(value)} ${unit}`;
}

/** "95.2% < 99 (min 99)", "612 ms > 500 (max 500)", "passed": the comparison a user checks. */
export function describeCheck(check: CheckOutcome): string {
  const parts = [printable(check.check)];
  if (check.value !== undefined) {
    const value = unitText(check.value, check.unit);
    const { min, max } = check.threshold ?? {};
    if (min !== undefined && check.value < min) parts.push(`${value} < ${formatNumber(min)}`);
    else if (max !== undefined && check.value > max) parts.push(`${value} > ${formatNumber(max)}`);
    else parts.push(value);
    const range = [
      ...(min === undefined ? [] : [`min ${formatNumber(min)}`]),
      ...(max === undefined ? [] : [`max ${formatNumber(max)}`]),
    ];
    if (range.length > 0) parts.push(`(${range.join(', ')})`);
  }
  parts.push(check.verdict === 'pass' ? 'passed' : check.verdict === 'fail' ? 'failed' : 'inconclusive');
  const sample = sampleOf(check);
  if (sample !== undefined) parts.push(`[${sample}]`);
  if (check.verdict !== 'pass' && check.value === undefined) parts.push(`: ${printable(check.message)}`);
  return parts.join(' ');
}

/** What the check says about the sample behind its value (judges report counts; others may not). */
function sampleOf(check: CheckOutcome): string | undefined {
  const evidence = check.evidence;
  if (evidence === undefined) return undefined;
  const shown = Object.entries(evidence)
    .filter(
      ([key, value]) =>
        key !== 'query' && key !== 'error' && (typeof value === 'number' || typeof value === 'string'),
    )
    .map(([key, value]) => `${printable(key)} ${printable(String(value))}`);
  return shown.length === 0 ? undefined : shown.join(', ');
}

/** HH:MM:SS in UTC (the records' own zone), or the text as kept when it is not a time. */
export function clockOf(time: string): string {
  const parsed = new Date(time);
  return Number.isNaN(parsed.getTime()) ? printable(time) : parsed.toISOString().slice(11, 19);
}

/** One decision: its headline and the evidence under it, indented. */
export function formatDecision(decision: Decision): string {
  const clock = clockOf(decision.time);
  const lines = [`${clock} ${decision.action}: ${printable(decision.message)}`];
  if (decision.request !== undefined) {
    const { action, by, reason, at, honoured } = decision.request;
    lines.push(
      `    ${printable(action)} requested by ${printable(by)} at ${clockOf(at)}: ${printable(reason)}${honoured ? '' : ' (not honoured)'}`,
    );
  }
  for (const check of decision.checks ?? []) lines.push(`    ${describeCheck(check)}`);
  if (decision.webhook !== undefined) {
    const { name, type, status, body } = decision.webhook;
    const answer = body.trim() === '' ? '' : `: ${printable(body.trim().slice(0, 200))}`;
    lines.push(
      `    webhook ${printable(name)} (${type}) answered ${status === 0 ? 'nothing' : `HTTP ${status}`}${answer}`,
    );
  }
  lines.push(
    `    ${decision.phase || 'no phase'}, weight ${decision.canaryWeight}/${decision.primaryWeight}, iteration ${decision.iteration}, ${decision.failedChecks} of ${decision.threshold} failed checks${decision.next === '' ? '' : `; next: ${printable(decision.next)}`}`,
  );
  return `${lines.join('\n')}\n`;
}

export function formatTimeline(name: string, decisions: readonly Decision[]): string {
  if (decisions.length === 0)
    return `no decisions kept for ${printable(name)} yet (the controller records one per analysis step)\n`;
  const day = decisions[0]!.time.slice(0, 10);
  return `${printable(name)}: ${decisions.length} decision${decisions.length === 1 ? '' : 's'} from ${printable(day)} (times UTC)\n${decisions.map(formatDecision).join('')}`;
}
