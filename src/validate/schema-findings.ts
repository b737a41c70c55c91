/** Turns the validator's schema violations into findings a person can act on. */
import type { SchemaIssue, SchemaValidator, ValidatedKind } from '../api/validation.js';
import { error, type Finding } from './finding.js';
import { formatPath, parseJsonPointer, valueAt, type FieldPath } from './path.js';
import { closestMatch } from './suggest.js';
import { propertyNames, schemaAt, schemaAtPointer, type JsonSchema } from './schema-walk.js';

/** `spec.analysis` needs interval, threshold and one progression field: semantics say which. */
const EXPLAINED_ELSEWHERE = new Set(['/spec/analysis#oneOf']);

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'true or false',
  object: 'a map of fields',
  array: 'a list',
};

export function schemaFindings(validator: SchemaValidator, kind: ValidatedKind, object: unknown): Finding[] {
  const root = validator.schemaOf(kind) as JsonSchema;
  const issues = validator.validate(kind, object);
  const branchPrefixes = issues
    .filter((issue) => issue.keyword === 'oneOf' || issue.keyword === 'anyOf')
    .map((issue) => `${issue.schemaPath}/`);
  // A value of the wrong type also fails its enum; the type error alone says it better.
  const wrongType = new Set(
    issues.filter((issue) => issue.keyword === 'type').map((issue) => issue.instancePath),
  );
  const findings: Finding[] = [];
  for (const issue of issues) {
    if (branchPrefixes.some((prefix) => issue.schemaPath.startsWith(prefix))) continue;
    if (issue.keyword === 'enum' && wrongType.has(issue.instancePath)) continue;
    if (EXPLAINED_ELSEWHERE.has(`${issue.instancePath}#${issue.keyword}`)) continue;
    const finding = describeIssue(root, object, issue, kind);
    if (finding !== undefined) findings.push(finding);
  }
  return findings;
}

function describeIssue(
  root: JsonSchema,
  object: unknown,
  issue: SchemaIssue,
  kind: ValidatedKind,
): Finding | undefined {
  const path = parseJsonPointer(issue.instancePath, object);
  const value = valueAt(object, path);
  const parentSchema = schemaAtPointer(root, issue.schemaPath.slice(0, issue.schemaPath.lastIndexOf('/')));
  const params = issue.params as Record<string, unknown>;
  switch (issue.keyword) {
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      return unknownField(root, object, path, key, kind);
    }
    case 'required': {
      const missing = String(params['missingProperty']);
      if (
        path.length === 1 &&
        path[0] === 'spec' &&
        missing === 'analysis' &&
        valueAt(object, ['spec', 'canaryAnalysis']) !== undefined
      ) {
        return error(
          ['spec', 'analysis'],
          'missing required field "analysis": rename the deprecated canaryAnalysis to analysis (Flagger\'s CRD drops canaryAnalysis)',
        );
      }
      return error([...path, missing], `missing required field "${missing}"`);
    }
    case 'type':
      return error(
        path,
        `must be ${TYPE_NAMES[String(params['type'])] ?? String(params['type'])}, not ${describeValue(value)}`,
      );
    case 'enum':
      return enumMismatch(path, value, (params['allowedValues'] as unknown[]).map(String));
    case 'const':
      return error(path, `must be ${JSON.stringify(params['allowedValue'])}, not ${describeValue(value)}`);
    case 'pattern': {
      const hint = parentSchema?.['x-vireo-hint'];
      return error(
        path,
        `${describeValue(value)} ${typeof hint === 'string' ? hint : `must match ${String(params['pattern'])}`}`,
      );
    }
    case 'format':
      return error(path, formatMessage(String(params['format']), value));
    case 'multipleOf':
      return error(
        path,
        `must be a whole number, not ${String(value)} (Flagger reads this field as an integer)`,
      );
    case 'oneOf':
    case 'anyOf': {
      if (parentSchema?.['x-kubernetes-int-or-string'] === true) {
        return error(path, `must be a port number or a port name, not ${describeValue(value)}`);
      }
      const message = parentSchema?.['x-vireo-one-of'];
      return error(path, typeof message === 'string' ? message : (issue.message ?? 'is invalid'));
    }
    default:
      return error(path, issue.message ?? 'is invalid');
  }
}

function formatMessage(format: string, value: unknown): string {
  switch (format) {
    case 'url':
      return `${describeValue(value)} must be an absolute URL, such as http://flagger-loadtester.test/`;
    case 'date-time':
      return `${describeValue(value)} must be an RFC 3339 time, such as 2024-01-20T10:00:00Z`;
    default:
      return `${describeValue(value)} is not a valid ${format}`;
  }
}

function enumMismatch(path: FieldPath, value: unknown, allowed: string[]): Finding {
  const shown = allowed.map((option) => (option === '' ? '""' : option)).join(', ');
  const suggestion = typeof value === 'string' ? closestMatch(value, allowed) : undefined;
  const hint = suggestion === undefined ? '' : `; did you mean "${suggestion}"?`;
  return error(path, `${describeValue(value)} is not one of ${shown}${hint}`);
}

/**
 * An unknown field. The API server would prune it without a word, so this is an error, and we
 * look for what was meant: a typo of a sibling, a field that belongs to an ancestor (seed 004's
 * `interval` nested in `thresholdRange`), or one that belongs to a child object.
 */
function unknownField(
  root: JsonSchema,
  object: unknown,
  parentPath: FieldPath,
  key: string,
  kind: ValidatedKind,
): Finding {
  const path = [...parentPath, key];
  const base =
    kind === 'Workload'
      ? `unknown field "${key}" (local mode refuses it)`
      : `unknown field "${key}" (the API server would silently drop it)`;
  const suggestion = suggestPlacement(root, object, parentPath, key);
  return error(path, suggestion === undefined ? base : `${base}; ${suggestion}`, true);
}

function suggestPlacement(
  root: JsonSchema,
  object: unknown,
  parentPath: FieldPath,
  key: string,
): string | undefined {
  for (let depth = parentPath.length - 1; depth >= 1; depth -= 1) {
    const ancestorPath = parentPath.slice(0, depth);
    if (!propertyNames(schemaAt(root, ancestorPath)).includes(key)) continue;
    const target = formatPath([...ancestorPath, key]);
    const alreadySet = valueAt(object, [...ancestorPath, key]) !== undefined;
    const owner = formatPath(parentPath.slice(depth));
    return alreadySet
      ? `${target} is already set, remove this one from ${owner}`
      : `did you mean ${target}? It belongs there, not inside ${owner}`;
  }
  const siblings = propertyNames(schemaAt(root, parentPath));
  const typo = closestMatch(key, siblings);
  if (typo !== undefined) return `did you mean ${formatPath([...parentPath, typo])}?`;
  for (const child of siblings) {
    const childSchema = schemaAt(root, [...parentPath, child]);
    if (propertyNames(childSchema).includes(key))
      return `did you mean ${formatPath([...parentPath, child, key])}?`;
  }
  return undefined;
}
