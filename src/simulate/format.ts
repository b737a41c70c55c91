/** Renders a simulated timeline as a table, or as the documented JSON. */
import { formatDuration } from '../api/duration.js';
import type { Timeline, TimelineStep } from './timeline.js';

const STRATEGY_NAMES = { canary: 'canary', 'ab-testing': 'A/B testing', 'blue-green': 'blue/green' } as const;

function at(seconds: number): string {
  return Number.isNaN(seconds) ? 'never' : formatDuration(seconds * 1000);
}

function describe(step: TimelineStep): string {
  const parts: string[] = [];
  for (const hook of step.webhooks) parts.push(`${hook.type} ${hook.name}`);
  if (step.checks.length > 0) parts.push(`checks ${step.checks.join(', ')}`);
  parts.push(...step.events);
  if (step.mirrored) parts.push('(canary receives mirrored copies)');
  return parts.join('; ');
}

export function formatTimelineText(timeline: Timeline): string {
  const lines = [
    `Canary ${timeline.canary}: ${STRATEGY_NAMES[timeline.strategy]} with provider ${timeline.provider}, every ${at(timeline.intervalSeconds)}, rollback after ${timeline.threshold} failed check${timeline.threshold === 1 ? '' : 's'}`,
    '',
  ];
  const rows = timeline.steps.map((step) => [
    at(step.t),
    step.phase,
    String(step.canaryWeight),
    String(step.primaryWeight),
    timeline.strategy === 'canary' ? '' : String(step.iteration),
    describe(step),
  ]);
  const header = [
    't',
    'phase',
    'canary%',
    'primary%',
    timeline.strategy === 'canary' ? '' : 'iteration',
    'what happens',
  ];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const render = (row: string[]) =>
    row
      .map((cell, column) =>
        column === 0 || (column >= 2 && column <= 4)
          ? cell.padStart(widths[column]!)
          : cell.padEnd(widths[column]!),
      )
      .filter((_cell, column) => column !== 4 || timeline.strategy !== 'canary')
      .join('  ')
      .trimEnd();
  lines.push(render(header), ...rows.map(render), '');
  if (Number.isNaN(timeline.rolledBackAt)) {
    lines.push(
      `Promotion starts at ${at(timeline.promotionStartsAt)} and is complete at ${at(timeline.promotedAt)} (earliest possible).`,
    );
  } else {
    lines.push(
      `Checks fail from ${at(timeline.steps.find((step) => step.failedChecks > 0)?.t ?? Number.NaN)}: the canary is rolled back at ${at(timeline.rolledBackAt)}.`,
    );
  }
  const rule = `threshold ${timeline.threshold} × interval ${at(timeline.intervalSeconds)}`;
  lines.push(
    Number.isNaN(timeline.earliestRollbackAt)
      ? `A failing check would roll back ${at(timeline.rollbackAfter)} after it first fails (${rule}), but this canary runs no check that can fail.`
      : `A failing check rolls back ${at(timeline.rollbackAfter)} after it first fails (${rule}); the earliest rollback is at ${at(timeline.earliestRollbackAt)}.`,
  );
  for (const note of timeline.notes) lines.push(`Note: ${note}`);
  return `${lines.join('\n')}\n`;
}

/** `--json`: {"strategy","steps":[{"t","phase","canaryWeight","primaryWeight","iteration","webhooks"}],"promotionStartsAt","promotedAt","rollbackAfter"} */
export function formatTimelineJson(timeline: Timeline): string {
  const json = {
    ...timeline,
    promotionStartsAt: Number.isNaN(timeline.promotionStartsAt) ? null : timeline.promotionStartsAt,
    promotedAt: Number.isNaN(timeline.promotedAt) ? null : timeline.promotedAt,
    rolledBackAt: Number.isNaN(timeline.rolledBackAt) ? null : timeline.rolledBackAt,
    earliestRollbackAt: Number.isNaN(timeline.earliestRollbackAt) ? null : timeline.earliestRollbackAt,
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}
