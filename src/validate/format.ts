/** Human and JSON renderings of a validation report. */
import { printable } from '../shared/printable.js';
import type { ValidationReport } from './validate.js';

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/**
 * One line per problem: `file:line:col: Kind/name spec.path: message`, then a summary line. Every
 * piece that comes from the input (file names, names, keys, values quoted in messages) goes
 * through `printable`, so a name holding terminal escapes prints as text.
 */
export function formatText(report: ValidationReport): string {
  return `${formatLines(report).map(printable).join('\n')}\n`;
}

function formatLines(report: ValidationReport): string[] {
  const lines: string[] = [];
  for (const file of report.files) {
    if (file.unreadable !== undefined) {
      const position =
        file.unreadable.line === undefined ? '' : `:${file.unreadable.line}:${file.unreadable.column ?? 1}`;
      lines.push(`${file.file}${position}: cannot read: ${file.unreadable.reason}`);
    }
    for (const object of file.objects) {
      const subject = `${object.kind}/${object.name}`;
      for (const finding of object.errors) {
        lines.push(
          `${file.file}:${finding.line}:${finding.column}: ${subject} ${finding.path}: ${finding.message}`,
        );
      }
      for (const finding of object.warnings) {
        lines.push(
          `${file.file}:${finding.line}:${finding.column}: ${subject} ${finding.path}: warning: ${finding.message}`,
        );
      }
    }
  }
  const { summary } = report;
  const verdict = summary.unreadable > 0 ? 'unreadable input' : summary.errors > 0 ? 'invalid' : 'valid';
  lines.push(
    `${verdict}: ${plural(summary.files, 'file')}, ${plural(summary.objects, 'object')} checked, ${summary.skipped} other skipped; ${plural(summary.errors, 'error')}, ${plural(summary.warnings, 'warning')}`,
  );
  return lines;
}

/** `--format json`: {"files":[{"file","objects":[{"kind","name","errors":[…],"warnings":[…]}]}]} */
export function formatJson(report: ValidationReport): string {
  // JSON.stringify escapes C0 controls only; DEL, C1 controls (0x9b is a CSI), bidi controls and
  // the Unicode line separators would reach the terminal of whoever cats the output.
  const text = JSON.stringify(report, null, 2).replace(
    /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `${text}\n`;
}
