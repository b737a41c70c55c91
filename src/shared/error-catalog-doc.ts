/** docs/errors.md, rendered from the catalog (`npm run docs:errors`; a test fails when it is stale). */
import { ERROR_CATALOG, type ErrorArea, type ErrorCodeEntry } from './error-catalog.js';

const AREA_ORDER: readonly ErrorArea[] = [
  'Command line and input',
  'Canary analysis',
  'Metrics',
  'Notifiers and webhooks',
  'Kubernetes controller',
  'Local mode',
  'Loadtester',
  'Dashboard',
];

export function renderErrorsDoc(): string {
  const entries = Object.entries(ERROR_CATALOG) as [string, ErrorCodeEntry][];
  const lines = [
    '# Error codes',
    '',
    '<!-- Generated from src/shared/error-catalog.ts by `npm run docs:errors`: edit the catalog, not this file. -->',
    '',
    'Every error Vireo reports on purpose carries a stable code. The CLI prints it in square brackets',
    'after the message (`vireo: … [E_USAGE]`), JSON answers (`vireo metrics query --json`, the local-mode',
    'daemon) have it in `code`, and the loadtester sends it in the `x-vireo-error-code` header. The message',
    'says what happened to which object; this page says what each code means and what to do about it.',
    '',
    'The codes are stable: scripts and alerts may match on them. A code is never reused for another meaning.',
    '',
  ];
  for (const area of AREA_ORDER) {
    const inArea = entries.filter(([, entry]) => entry.area === area).sort(([a], [b]) => a.localeCompare(b));
    if (inArea.length === 0) continue;
    lines.push(`## ${area}`, '');
    for (const [code, entry] of inArea) {
      lines.push(`### ${code}`, '', entry.meaning, '', `**What to do:** ${entry.action}`, '');
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
