/**
 * What the dashboard's JSON API answers, computed by the same functions as `vireo get`, `status`
 * and `explain` (src/cli/ops/): the list's cells are `vireo get canaries -o wide`'s columns, a
 * check is described by `explain`'s `describeCheck`, and the canary page carries `vireo status`'s
 * text beside the structured data the charts draw (docs/dashboard.md).
 */
import type { Decision } from '../engine/decisions.js';
import { describeCheck, formatDecision } from '../cli/ops/explain.js';
import type { CanaryObject, Revisions } from '../cli/ops/port.js';
import { CANARY_COLUMNS } from '../cli/ops/printer.js';
import { formatStatus } from '../cli/ops/status.js';

const GATE_TYPES = new Set(['confirm-rollout', 'confirm-traffic-increase', 'confirm-promotion']);

export interface DecisionSummary {
  readonly time: string;
  readonly action: string;
  readonly message: string;
}

export interface CanaryRow {
  readonly namespace: string;
  readonly name: string;
  readonly phase: string;
  readonly weight: number;
  readonly failedChecks: number;
  readonly threshold: number | undefined;
  readonly iterations: number;
  /** How far through the steps: the current step (0 before the first) of `steps`. */
  readonly progress: { readonly step: number; readonly steps: number };
  readonly suspended: boolean;
  readonly lastTransitionTime: string | undefined;
  readonly lastDecision: DecisionSummary | undefined;
  /** `vireo get canaries -o wide`'s cells, column name to text, exactly as the CLI prints them. */
  readonly columns: Readonly<Record<string, string>>;
}

/** A JSONPath cell as `vireo get` renders it (src/cli/ops/printer.ts). */
function cellText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** The weights a canary walks through: its stepWeights, or stepWeight up to maxWeight. */
export function stepsOf(canary: CanaryObject): number[] {
  const analysis = canary.spec.analysis;
  if (analysis === undefined) return [];
  if (analysis.stepWeights !== undefined && analysis.stepWeights.length > 0) return [...analysis.stepWeights];
  const step = analysis.stepWeight ?? 0;
  const max = analysis.maxWeight ?? 50;
  if (step <= 0) return [];
  const steps: number[] = [];
  for (let weight = step; weight < max; weight += step) steps.push(weight);
  steps.push(max);
  return steps;
}

export function canaryRow(canary: CanaryObject, decisions: readonly Decision[]): CanaryRow {
  const status = canary.status ?? {};
  const weight = status.canaryWeight ?? 0;
  const steps = stepsOf(canary);
  const last = decisions.at(-1);
  return {
    namespace: canary.metadata.namespace ?? 'default',
    name: canary.metadata.name,
    phase: status.phase ?? '',
    weight,
    failedChecks: status.failedChecks ?? 0,
    threshold: canary.spec.analysis?.threshold,
    iterations: status.iterations ?? 0,
    progress: { step: steps.filter((stepWeight) => stepWeight <= weight).length, steps: steps.length },
    suspended: canary.spec.suspend === true,
    lastTransitionTime: status.lastTransitionTime,
    lastDecision:
      last === undefined ? undefined : { time: last.time, action: last.action, message: last.message },
    columns: Object.fromEntries(CANARY_COLUMNS.map((column) => [column.name, cellText(column.cell(canary))])),
  };
}

export interface CheckPoint {
  readonly time: string;
  readonly value: number | undefined;
  readonly min: number | undefined;
  readonly max: number | undefined;
  readonly verdict: string;
  /** `explain`'s words for it: value, comparison, range, verdict and sample. */
  readonly text: string;
}

export interface GateView {
  readonly name: string;
  readonly type: string;
  /** The loadtester's base URL when it is a gate the dashboard can open and close. */
  readonly loadtester: string | undefined;
  readonly lastAnswer: { readonly time: string; readonly status: number; readonly body: string } | undefined;
}

export interface CanaryDetail {
  readonly row: CanaryRow;
  readonly revisions: Revisions;
  /** `vireo status`'s text, as the terminal shows it. */
  readonly statusText: string;
  readonly weights: readonly { readonly time: string; readonly weight: number; readonly action: string }[];
  readonly checks: Readonly<Record<string, readonly CheckPoint[]>>;
  readonly timeline: readonly {
    readonly time: string;
    readonly action: string;
    readonly message: string;
    readonly next: string;
    /** `vireo explain`'s text for this decision. */
    readonly text: string;
  }[];
  readonly gates: readonly GateView[];
  /** Set when the decisions could not be read (RBAC); the page shows it instead of a history. */
  readonly decisionsNote: string | undefined;
}

function loadtesterOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}

export function canaryDetail(
  canary: CanaryObject,
  decisions: readonly Decision[],
  revisions: Revisions,
  now: Date,
  decisionsNote?: string,
): CanaryDetail {
  const checks: Record<string, CheckPoint[]> = {};
  for (const decision of decisions)
    for (const check of decision.checks ?? [])
      (checks[check.check] ??= []).push({
        time: decision.time,
        value: check.value,
        min: check.threshold?.min,
        max: check.threshold?.max,
        verdict: check.verdict,
        text: describeCheck(check),
      });
  const gates = (canary.spec.analysis?.webhooks ?? []).map((hook): GateView => {
    const type = hook.type ?? 'rollout';
    const answered = [...decisions].reverse().find((decision) => decision.webhook?.name === hook.name);
    return {
      name: hook.name,
      type,
      loadtester: GATE_TYPES.has(type) ? loadtesterOf(hook.url) : undefined,
      lastAnswer:
        answered?.webhook === undefined
          ? undefined
          : {
              time: answered.time,
              status: answered.webhook.status,
              body: answered.webhook.body.slice(0, 2048),
            },
    };
  });
  return {
    row: canaryRow(canary, decisions),
    revisions,
    statusText: formatStatus({ canary, decisions, revisions }, now),
    weights: decisions.map((decision) => ({
      time: decision.time,
      weight: decision.canaryWeight,
      action: decision.action,
    })),
    checks,
    timeline: decisions.map((decision) => ({
      time: decision.time,
      action: decision.action,
      message: decision.message,
      next: decision.next,
      text: formatDecision(decision),
    })),
    gates,
    decisionsNote,
  };
}
