/**
 * `vireo validate`: checks Canary, MetricTemplate and AlertProvider manifests, and local mode's
 * Workloads, offline, with the schema of our CRDs (unknown fields included) and the semantics the
 * schema cannot express.
 */
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { describeYamlError } from '../shared/yaml-errors.js';
import { LOCAL_WORKLOAD_GROUP } from '../api/schema/workload.js';
import {
  FLAGGER_KINDS,
  VALIDATED_KINDS,
  type SchemaValidator,
  type ValidatedKind,
} from '../api/validation.js';
import type { Finding, Severity } from './finding.js';
import { locate } from './locate.js';
import { formatPath, type FieldPath } from './path.js';
import { checkAlertProvider } from './semantics/alert-provider.js';
import { checkCanary } from './semantics/canary.js';
import { checkMetadata } from './semantics/metadata.js';
import { checkMetricTemplate } from './semantics/metric-template.js';
import { checkWorkload } from './semantics/workload.js';
import { asFields, asList, asText, type Fields } from './semantics/read.js';
import { checkReferences, type IndexedObject } from './semantics/references.js';
import { schemaFindings } from './schema-findings.js';
import { closestMatch } from './suggest.js';
import type { InputText, Inputs } from './inputs.js';

export interface LocatedFinding {
  path: string;
  line: number;
  column: number;
  message: string;
}

export interface ObjectReport {
  kind: string;
  name: string;
  namespace?: string;
  line: number;
  errors: LocatedFinding[];
  warnings: LocatedFinding[];
}

export interface FileReport {
  file: string;
  objects: ObjectReport[];
  /** Documents of other kinds (Deployments, Services…), counted but not checked. */
  skipped: number;
  /** Set when the file could not be read or parsed as YAML. */
  unreadable?: { reason: string; line?: number; column?: number };
}

export interface ValidationSummary {
  files: number;
  objects: number;
  skipped: number;
  errors: number;
  warnings: number;
  unreadable: number;
}

export interface ValidationReport {
  files: FileReport[];
  summary: ValidationSummary;
}

export interface ValidateOptions {
  /** The controller's --mesh-provider, for canaries without spec.provider. */
  meshProvider?: string | undefined;
  /** The schema validator (`loadSchemaValidator()`, or `compileSchemaValidator()` in tests). */
  validator: SchemaValidator;
}

interface PendingObject extends IndexedObject {
  file: FileReport;
  document: Document;
  lineCounter: LineCounter;
  /** Path of the object inside its document (a List's items). */
  prefix: FieldPath;
}

/** The API groups whose kinds are checked, for near misses such as `kind: Workloads`. */
const KINDS_OF_GROUP: Readonly<Record<string, readonly string[]>> = {
  'flagger.app': FLAGGER_KINDS,
  [LOCAL_WORKLOAD_GROUP]: ['Workload'],
};

export function validateInputs(inputs: Inputs, options: ValidateOptions): ValidationReport {
  const { validator } = options;
  const files: FileReport[] = inputs.unreadable.map((input) => ({
    file: input.file,
    objects: [],
    skipped: 0,
    unreadable: { reason: input.reason },
  }));
  const pending: PendingObject[] = [];
  for (const input of inputs.texts) {
    const file: FileReport = { file: input.file, objects: [], skipped: 0 };
    files.push(file);
    pending.push(...collectObjects(input, file, validator, options));
  }
  checkReferences(pending);
  for (const object of pending) object.file.objects.push(toReport(object));
  return { files, summary: summarize(files) };
}

function collectObjects(
  input: InputText,
  file: FileReport,
  validator: SchemaValidator,
  options: ValidateOptions,
): PendingObject[] {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(input.text, { lineCounter, uniqueKeys: true });
  const list = Array.isArray(documents) ? documents : [];
  const pending: PendingObject[] = [];
  for (const document of list) {
    const syntaxError = document.errors[0];
    if (syntaxError !== undefined) {
      // Our own words, never the source line: the file may hold a Secret.
      const problem = describeYamlError(syntaxError, input.text);
      file.unreadable = {
        reason: problem.message,
        ...(problem.line === undefined ? {} : { line: problem.line, column: problem.column ?? 1 }),
      };
      return [];
    }
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: 100 });
    } catch (cause) {
      // Parsing succeeded but resolving failed: an alias to an anchor defined nowhere (or later),
      // or an alias bomb past maxAliasCount.
      file.unreadable = { reason: `invalid YAML: ${describeYamlError(cause, input.text).message}` };
      return [];
    }
    for (const [object, prefix] of objectsIn(value)) {
      const entry = checkObject(object, validator, options);
      if (entry === undefined) {
        file.skipped += 1;
        continue;
      }
      pending.push({ ...entry, file, document, lineCounter, prefix });
    }
  }
  return pending;
}

/** A document holds one object, or a `kind: List` (as `kubectl get -o yaml` prints) of them. */
function objectsIn(value: unknown): [unknown, FieldPath][] {
  const fields = asFields(value);
  if (fields === undefined) return value === null || value === undefined ? [] : [[value, []]];
  if (asText(fields['kind'])?.endsWith('List') === true && Array.isArray(fields['items'])) {
    return asList(fields['items']).map((item, index) => [item, ['items', index]]);
  }
  return [[value, []]];
}

function checkObject(
  value: unknown,
  validator: SchemaValidator,
  options: ValidateOptions,
): Omit<IndexedObject, 'file'> | undefined {
  const object = asFields(value);
  if (object === undefined) return undefined;
  const apiVersion = asText(object['apiVersion']) ?? '';
  const kindText = asText(object['kind']) ?? '';
  const metadata = asFields(object['metadata']);
  const name = asText(metadata?.['name']) ?? '(unnamed)';
  const namespace = asText(metadata?.['namespace']);
  const group = apiVersion.split('/')[0] ?? '';
  const kind = (VALIDATED_KINDS as readonly string[]).includes(kindText)
    ? (kindText as ValidatedKind)
    : undefined;
  if (kind === undefined) {
    // Another group's kinds (Deployments, Services…) are not ours to check; a typo of one of ours is.
    const kinds = Object.hasOwn(KINDS_OF_GROUP, group) ? KINDS_OF_GROUP[group] : undefined;
    if (kinds === undefined) return undefined;
    const nearMiss = closestMatch(kindText, kinds);
    const findings: Finding[] = [
      {
        severity: 'error',
        path: ['kind'],
        message: `${JSON.stringify(kindText)} is not a ${group} kind${nearMiss === undefined ? ` (${kinds.join(', ')})` : `; did you mean "${nearMiss}"?`}`,
      },
    ];
    return { kind: kindText || '(no kind)', name, namespace, object, findings };
  }
  const findings = [
    ...objectSchemaFindings(validator, kind, object),
    // Workload names follow local mode's rule (semantics/workload.ts), not the API server's.
    ...(kind === 'Workload' ? [] : checkMetadata(object)),
    ...semanticFindings(kind, object, options),
  ];
  return { kind, name, namespace, object, findings };
}

function objectSchemaFindings(validator: SchemaValidator, kind: ValidatedKind, object: Fields): Finding[] {
  const findings = schemaFindings(validator, kind, object);
  const spec = asFields(object['spec']);
  if (
    kind === 'Canary' &&
    spec !== undefined &&
    spec['analysis'] === undefined &&
    spec['canaryAnalysis'] !== undefined
  ) {
    // Check the deprecated alias as if it were `analysis`, and report at its real place.
    const asAnalysis = {
      ...object,
      spec: { ...spec, analysis: spec['canaryAnalysis'], canaryAnalysis: undefined },
    };
    delete (asAnalysis.spec as Fields)['canaryAnalysis'];
    for (const finding of schemaFindings(validator, kind, asAnalysis)) {
      if (finding.path[0] === 'spec' && finding.path[1] === 'analysis') {
        findings.push({ ...finding, path: ['spec', 'canaryAnalysis', ...finding.path.slice(2)] });
      }
    }
  }
  return findings;
}

function semanticFindings(kind: ValidatedKind, object: Fields, options: ValidateOptions): Finding[] {
  switch (kind) {
    case 'Workload':
      return checkWorkload(object);
    case 'Canary':
      return checkCanary(object, { meshProvider: options.meshProvider });
    case 'MetricTemplate':
      return checkMetricTemplate(object);
    case 'AlertProvider':
      return checkAlertProvider(object);
  }
}

function toReport(object: PendingObject): ObjectReport {
  const located = (severity: Severity): LocatedFinding[] => {
    const seen = new Set<string>();
    const results: LocatedFinding[] = [];
    for (const finding of object.findings) {
      if (finding.severity !== severity) continue;
      const path = formatPath(finding.path);
      const key = `${path}\n${finding.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const atKey = finding.atKey === true;
      const position = locate(object.document, object.lineCounter, [...object.prefix, ...finding.path], {
        atKey,
      });
      results.push({ path, line: position.line, column: position.column, message: finding.message });
    }
    return results.sort((a, b) => a.line - b.line || a.column - b.column);
  };
  const start = locate(object.document, object.lineCounter, object.prefix);
  return {
    kind: object.kind,
    name: object.name,
    ...(object.namespace === undefined ? {} : { namespace: object.namespace }),
    line: start.line,
    errors: located('error'),
    warnings: located('warning'),
  };
}

function summarize(files: readonly FileReport[]): ValidationSummary {
  const objects = files.flatMap((file) => file.objects);
  return {
    files: files.length,
    objects: objects.length,
    skipped: files.reduce((total, file) => total + file.skipped, 0),
    errors: objects.reduce((total, object) => total + object.errors.length, 0),
    warnings: objects.reduce((total, object) => total + object.warnings.length, 0),
    unreadable: files.filter((file) => file.unreadable !== undefined).length,
  };
}

/** Exit status: 0 valid (warnings allowed), 1 invalid, 2 some input unreadable. */
export function exitCodeOf(report: ValidationReport): 0 | 1 | 2 {
  if (report.summary.unreadable > 0) return 2;
  return report.summary.errors > 0 ? 1 : 0;
}
