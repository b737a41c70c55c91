import type { FieldPath } from './path.js';

export type Severity = 'error' | 'warning';

/** One problem in one object, before it is given a file position. */
export interface Finding {
  severity: Severity;
  path: FieldPath;
  message: string;
  /** Point at the field's name rather than its value (unknown and misplaced fields). */
  atKey?: boolean;
}

export const error = (path: FieldPath, message: string, atKey = false): Finding => ({
  severity: 'error',
  path,
  message,
  atKey,
});

export const warning = (path: FieldPath, message: string, atKey = false): Finding => ({
  severity: 'warning',
  path,
  message,
  atKey,
});
