/**
 * Label selectors as kubectl takes them with `-l` (equality and existence: `app=web`,
 * `tier!=db`, `canary`, `!legacy`, `env in (a,b)`, `env notin (a)`), for local mode, where no API
 * server evaluates them. The cluster backend hands the text to the API server unchanged.
 */
import { UsageError } from '../../shared/errors.js';

export type LabelMatcher = (labels: Readonly<Record<string, string>> | undefined) => boolean;

export function parseLabelSelector(text: string): LabelMatcher {
  const terms = splitTerms(text).map((term) => parseTerm(term.trim(), text));
  return (labels) => terms.every((term) => term(labels ?? {}));
}

function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth++;
    if (char === ')') depth--;
    if (char === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else current += char;
  }
  terms.push(current);
  return terms.filter((term) => term.trim() !== '');
}

const KEY = /^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/;

function parseTerm(term: string, whole: string): (labels: Readonly<Record<string, string>>) => boolean {
  const bad = (): never => {
    throw new UsageError(
      `-l: cannot read "${term}" in selector "${whole}": use key=value, key!=value, key, !key, "key in (a,b)" or "key notin (a,b)"`,
    );
  };
  const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (set !== null) {
    const [, key = '', operator, list = ''] = set;
    if (!KEY.test(key)) bad();
    const values = new Set(list.split(',').map((value) => value.trim()));
    return operator === 'in'
      ? (labels) => labels[key] !== undefined && values.has(labels[key])
      : (labels) => labels[key] === undefined || !values.has(labels[key]);
  }
  const comparison = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (comparison !== null) {
    const [, key = '', operator, value = ''] = comparison;
    if (!KEY.test(key)) bad();
    return operator === '!=' ? (labels) => labels[key] !== value : (labels) => labels[key] === value;
  }
  if (term.startsWith('!')) {
    const key = term.slice(1).trim();
    if (!KEY.test(key)) bad();
    return (labels) => labels[key] === undefined;
  }
  if (!KEY.test(term)) bad();
  return (labels) => labels[term] !== undefined;
}
