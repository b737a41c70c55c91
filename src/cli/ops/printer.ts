/**
 * `vireo get canaries` prints what `kubectl get canaries` prints: the CRD's printer columns
 * (crds/flagger.app_canaries.yaml additionalPrinterColumns; priority 1 only with `-o wide`), a
 * NAMESPACE column first with `-A`, columns padded by three spaces, and `-o json|yaml|name` as
 * kubectl shapes them. A cell the object lacks is left empty, as the API server's table does.
 */
import { stringify } from 'yaml';
import { printable } from '../../shared/printable.js';
import type { CanaryObject } from './port.js';

export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml' | 'name';
export const OUTPUT_FORMATS: readonly string[] = ['wide', 'json', 'yaml', 'name'];

interface PrinterColumn {
  readonly name: string;
  readonly wide: boolean;
  readonly cell: (canary: CanaryObject) => unknown;
}

/** The columns in the CRD's order. */
export const CANARY_COLUMNS: readonly PrinterColumn[] = [
  { name: 'Status', wide: false, cell: (canary) => canary.status?.phase },
  { name: 'Weight', wide: false, cell: (canary) => canary.status?.canaryWeight },
  { name: 'Suspended', wide: true, cell: (canary) => canary.spec.suspend },
  { name: 'FailedChecks', wide: true, cell: (canary) => canary.status?.failedChecks },
  { name: 'Interval', wide: true, cell: (canary) => canary.spec.analysis?.interval },
  { name: 'Mirror', wide: true, cell: (canary) => canary.spec.analysis?.mirror },
  { name: 'StepWeight', wide: true, cell: (canary) => canary.spec.analysis?.stepWeight },
  { name: 'StepWeights', wide: true, cell: (canary) => canary.spec.analysis?.stepWeights },
  { name: 'MaxWeight', wide: true, cell: (canary) => canary.spec.analysis?.maxWeight },
  { name: 'LastTransitionTime', wide: false, cell: (canary) => canary.status?.lastTransitionTime },
];

/** A cell as the API server's table renders a JSONPath result: JSON for lists, text otherwise. */
function cellText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

export function canaryRows(
  canaries: readonly CanaryObject[],
  options: { wide: boolean; allNamespaces: boolean },
): string[][] {
  const columns = CANARY_COLUMNS.filter((column) => options.wide || !column.wide);
  const header = [
    ...(options.allNamespaces ? ['NAMESPACE'] : []),
    'NAME',
    ...columns.map((column) => column.name.toUpperCase()),
  ];
  const rows = sortCanaries(canaries).map((canary) => [
    ...(options.allNamespaces ? [printable(canary.metadata.namespace ?? '')] : []),
    printable(canary.metadata.name),
    ...columns.map((column) => printable(cellText(column.cell(canary)))),
  ]);
  return [header, ...rows];
}

/**
 * kubectl's tab writer (minimum width 6, padding 3): every cell but a row's last is padded to its
 * column's widest cell plus three spaces, so a row whose last cells are empty keeps its padding.
 */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, [...cell].length)));
  return rows
    .map((row) =>
      row
        .map((cell, index) =>
          index === row.length - 1 ? cell : cell.padEnd(Math.max(6, (widths[index] ?? 0) + 3)),
        )
        .join(''),
    )
    .map((line) => `${line}\n`)
    .join('');
}

export function sortCanaries(canaries: readonly CanaryObject[]): CanaryObject[] {
  return [...canaries].sort(
    (a, b) =>
      (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
      a.metadata.name.localeCompare(b.metadata.name),
  );
}

/**
 * `-o json|yaml` of several objects: a v1 List, as kubectl prints it (keys sorted, four-space JSON,
 * managedFields left out); `-o name`: canary.flagger.app/NAME.
 */
export function formatCanaries(canaries: readonly CanaryObject[], format: 'json' | 'yaml' | 'name'): string {
  const sorted = sortCanaries(canaries);
  if (format === 'name') return sorted.map((canary) => formatCanary(canary, 'name')).join('');
  return formatObject(
    {
      apiVersion: 'v1',
      items: sorted.map(withoutManagedFields),
      kind: 'List',
      metadata: { resourceVersion: '' },
    },
    format,
  );
}

export function formatCanary(canary: CanaryObject, format: 'json' | 'yaml' | 'name'): string {
  if (format === 'name') return `canary.flagger.app/${printable(canary.metadata.name)}\n`;
  return formatObject(withoutManagedFields(canary), format);
}

function formatObject(value: unknown, format: 'json' | 'yaml'): string {
  const sorted = sortKeys(value);
  return format === 'json' ? `${JSON.stringify(sorted, null, 4)}\n` : stringify(sorted, { indentSeq: false });
}

function withoutManagedFields(canary: CanaryObject): CanaryObject {
  const metadata: Record<string, unknown> = { ...canary.metadata };
  delete metadata['managedFields'];
  return { ...canary, metadata: metadata as unknown as CanaryObject['metadata'] };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}
