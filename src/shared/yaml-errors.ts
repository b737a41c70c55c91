/**
 * YAML syntax errors as Vireo prints them: our own sentence per error code, the position, and
 * the key the error sits under ("at key stringData.token"), but never a piece of the source.
 * The yaml library's messages quote the offending line, and in a Secret manifest that line is a
 * credential; an escape sequence or a reserved character it quotes is a piece of one.
 */
import { YAMLError } from 'yaml';
import { printable } from './printable.js';

export interface YamlProblem {
  /** What is wrong, naming the key when one can be found; no source text beyond key names. */
  readonly message: string;
  /** 1-based, when known. */
  readonly line?: number;
  readonly column?: number;
}

const MESSAGES: Readonly<Record<string, string>> = {
  ALIAS_PROPS: 'an alias (*name) cannot have a tag or an anchor',
  BAD_ALIAS: 'an alias (*name) is malformed',
  BAD_DIRECTIVE: 'a directive (a line starting with %) is malformed',
  BAD_DQ_ESCAPE: 'invalid escape sequence in a double-quoted string (write \\\\ for a backslash)',
  BAD_INDENT: 'the indentation is wrong, or a bracket or quote is not closed',
  BAD_PROP_ORDER: 'an anchor or tag is in the wrong place',
  BAD_SCALAR_START: 'a plain value cannot start with one of @ ` | > % ! & * or similar: quote the value',
  BLOCK_AS_IMPLICIT_KEY:
    'a value holds ": " where a key and value were not expected: quote the value, or put the nested map on its own lines',
  BLOCK_IN_FLOW: 'a block map or list cannot sit inside [ ] or { }',
  DUPLICATE_KEY: 'a key is repeated in the same map',
  IMPOSSIBLE: 'the YAML parser met an impossible state',
  MISSING_CHAR: 'a closing quote or bracket is missing',
  MULTILINE_IMPLICIT_KEY: 'a key must fit on one line (is a colon or quote missing on the line above?)',
  MULTIPLE_ANCHORS: 'a node has two anchors',
  MULTIPLE_DOCS: 'a single document was expected',
  MULTIPLE_TAGS: 'a node has two tags',
  NON_STRING_KEY: 'a key must be a string',
  RESOURCE_EXHAUSTION: 'the document nests too deeply to be read',
  TAB_AS_INDENT: 'tabs cannot indent YAML: use spaces',
  TAG_RESOLVE_FAILED: 'a value does not match its tag',
  UNEXPECTED_TOKEN: 'unexpected text after a value (is a quote, colon or line break missing?)',
  BAD_COLLECTION_TYPE: 'a tag does not fit the kind of collection it is on',
};

/** Errors thrown when a parsed document is turned into data (aliases), not parse errors. */
function resolveErrorMessage(error: Error): string {
  if (error.message.startsWith('Unresolved alias')) {
    return 'an alias (*name) refers to an anchor that is not defined before it';
  }
  if (error.message.startsWith('Excessive alias count')) return 'too many aliases (an alias bomb)';
  return 'the document cannot be resolved';
}

export function describeYamlError(error: unknown, text: string): YamlProblem {
  if (!(error instanceof YAMLError)) {
    return { message: error instanceof Error ? resolveErrorMessage(error) : 'invalid YAML' };
  }
  const base = MESSAGES[error.code] ?? 'invalid YAML';
  const position = error.linePos?.[0];
  if (position === undefined) return { message: base };
  const key = keyPathAt(text, position.line);
  return {
    message: key === undefined ? base : `${base} (at key ${key})`,
    line: position.line,
    column: position.col,
  };
}

/** "line 4, column 14: …", for messages that carry no file position of their own. */
export function formatYamlProblem(problem: YamlProblem): string {
  return problem.line === undefined
    ? problem.message
    : `line ${problem.line}, column ${problem.column ?? 1}: ${problem.message}`;
}

const KEY_LINE = /^(\s*)(?:-\s+)*([A-Za-z0-9_][A-Za-z0-9_./-]{0,252})\s*:(?:\s|$)/;
const MAX_KEY_DEPTH = 16;

/**
 * The block-map keys that enclose a line, read from indentation alone (the document did not
 * parse, so there is no tree): the key on the line itself, or on the nearest line above, then
 * each less-indented key above that. Only key names are returned, never values.
 */
function keyPathAt(text: string, line: number): string | undefined {
  const lines = text.split('\n');
  let index = Math.min(line, lines.length) - 1;
  while (index >= 0 && (lines[index] ?? '').trim() === '') index -= 1;
  const keys: string[] = [];
  let indent = Number.POSITIVE_INFINITY;
  for (; index >= 0 && keys.length < MAX_KEY_DEPTH; index -= 1) {
    const current = lines[index] ?? '';
    if (current.trim() === '' || current.trimStart().startsWith('#')) continue;
    if (/^(---|\.\.\.)(\s|$)/.test(current)) break;
    const match = KEY_LINE.exec(current);
    const currentIndent = current.length - current.trimStart().length;
    if (match === null || currentIndent >= indent) continue;
    // In "  - name: a" the key sits after the dash: it encloses what is indented past it, while
    // the dash itself is a list item, whose own key is further up.
    const keyColumn = match[0].length - match[0].trimStart().length + match[0].trimStart().indexOf(match[2]!);
    if (keyColumn < indent) keys.unshift(match[2]!);
    indent = currentIndent;
    if (indent === 0) break;
  }
  return keys.length === 0 ? undefined : printable(keys.join('.'));
}
