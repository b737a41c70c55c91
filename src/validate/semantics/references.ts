/**
 * Checks between objects of the same input: templateRef and providerRef, template variables,
 * and two Canaries fighting over one target.
 */
import { LOCAL_WORKLOAD_GROUP } from '../../api/schema/workload.js';
import { error, warning, type Finding } from '../finding.js';
import type { FieldPath } from '../path.js';
import { closestMatch } from '../suggest.js';
import { templateReferences } from './metric-template.js';
import { asFields, asList, asText, type Fields } from './read.js';

export interface IndexedObject {
  kind: string;
  name: string;
  /** undefined: no namespace in the manifest (it goes to the current namespace when applied). */
  namespace: string | undefined;
  object: Fields;
  findings: Finding[];
  /** The input the object came from (local mode resolves Workloads within one file). */
  file?: unknown;
}

function sameNamespace(left: string | undefined, right: string | undefined): boolean {
  return (left ?? '') === (right ?? '');
}

function describeNamespace(namespace: string | undefined): string {
  return namespace === undefined ? 'the current namespace' : `namespace ${namespace}`;
}

export function checkReferences(objects: readonly IndexedObject[]): void {
  const byKind = (kind: string) => objects.filter((candidate) => candidate.kind === kind);
  const templates = byKind('MetricTemplate');
  const providers = byKind('AlertProvider');
  const canaries = byKind('Canary');
  for (const canary of canaries) {
    const analysis = asFields(asFields(canary.object['spec'])?.['analysis']);
    asList(analysis?.['metrics']).forEach((entry, index) => {
      const metric = asFields(entry);
      const reference = asFields(metric?.['templateRef']);
      if (metric === undefined || reference === undefined) return;
      const path: FieldPath = ['spec', 'analysis', 'metrics', index, 'templateRef'];
      const template = resolve(canary, reference, templates, 'MetricTemplate', path);
      if (template !== undefined)
        checkVariables(canary, metric, template, ['spec', 'analysis', 'metrics', index]);
    });
    asList(analysis?.['alerts']).forEach((entry, index) => {
      const reference = asFields(asFields(entry)?.['providerRef']);
      if (reference !== undefined) {
        resolve(canary, reference, providers, 'AlertProvider', [
          'spec',
          'analysis',
          'alerts',
          index,
          'providerRef',
        ]);
      }
    });
  }
  findSharedTargets(canaries);
  // A misspelt Workload (kind: Workloads) has an error of its own; it still answers for its name.
  findWorkloadTargets(
    canaries,
    objects.filter(
      (candidate) =>
        candidate.kind === 'Workload' ||
        asText(candidate.object['apiVersion'])?.startsWith(`${LOCAL_WORKLOAD_GROUP}/`) === true,
    ),
  );
}

/**
 * A Canary whose targetRef names a Workload runs in local mode, which needs that Workload in the
 * same file (docs/local/manifest.md). A Workload with errors of its own still counts as found:
 * one mistake, one message.
 */
function findWorkloadTargets(canaries: readonly IndexedObject[], workloads: readonly IndexedObject[]): void {
  for (const canary of canaries) {
    const target = asFields(asFields(canary.object['spec'])?.['targetRef']);
    const name = asText(target?.['name']);
    if (asText(target?.['kind']) !== 'Workload' || name === undefined) continue;
    const namespace = canary.namespace ?? 'default';
    const candidates = workloads.filter(
      (workload) => workload.file === canary.file && (workload.namespace ?? 'default') === namespace,
    );
    if (candidates.some((workload) => workload.name === name)) continue;
    const nearMiss = closestMatch(
      name,
      candidates.map((workload) => workload.name),
    );
    canary.findings.push(
      error(
        ['spec', 'targetRef'],
        `no Workload "${name}" in namespace ${namespace} in this file${nearMiss === undefined ? '' : `; did you mean "${nearMiss}"?`} (local mode runs the Workloads of the Canary's file)`,
        true,
      ),
    );
  }
}

function resolve(
  canary: IndexedObject,
  reference: Fields,
  candidates: readonly IndexedObject[],
  kind: string,
  path: FieldPath,
): IndexedObject | undefined {
  const name = asText(reference['name']);
  if (name === undefined) return undefined;
  const namespace = asText(reference['namespace']) ?? canary.namespace;
  const found = candidates.find(
    (candidate) => candidate.name === name && sameNamespace(candidate.namespace, namespace),
  );
  if (found !== undefined) return found;
  const elsewhere = candidates.find((candidate) => candidate.name === name);
  if (elsewhere !== undefined) {
    canary.findings.push(
      error(
        path,
        `${kind} "${name}" is in ${describeNamespace(elsewhere.namespace)}, but this reference looks in ${describeNamespace(namespace)}${elsewhere.namespace === undefined ? '' : `: set namespace: ${elsewhere.namespace}`}`,
      ),
    );
  } else if (candidates.length > 0) {
    canary.findings.push(
      warning(
        path,
        `${kind} "${name}" is not among the validated files: make sure it exists in ${describeNamespace(namespace)}`,
      ),
    );
  }
  return undefined;
}

function checkVariables(
  canary: IndexedObject,
  metric: Fields,
  template: IndexedObject,
  metricPath: FieldPath,
): void {
  const query = asText(asFields(template.object['spec'])?.['query']) ?? '';
  const provided = Object.keys(asFields(metric['templateVariables']) ?? {});
  const used = new Set(
    templateReferences(query)
      .filter((reference) => reference.kind === 'variable')
      .map((reference) => reference.name),
  );
  for (const name of used) {
    if (!provided.includes(name)) {
      canary.findings.push(
        error(
          [...metricPath, 'templateVariables'],
          `MetricTemplate "${template.name}" uses {{ variables.${name} }}: add ${name} to templateVariables`,
        ),
      );
    }
  }
  for (const name of provided) {
    if (!used.has(name)) {
      canary.findings.push(
        warning(
          [...metricPath, 'templateVariables', name],
          `MetricTemplate "${template.name}" does not use variable ${name}`,
          true,
        ),
      );
    }
  }
}

function findSharedTargets(canaries: readonly IndexedObject[]): void {
  const owners = new Map<string, IndexedObject>();
  for (const canary of canaries) {
    const target = asFields(asFields(canary.object['spec'])?.['targetRef']);
    const kind = asText(target?.['kind']);
    const name = asText(target?.['name']);
    if (kind === undefined || name === undefined) continue;
    const key = `${canary.namespace ?? ''}/${kind}/${name}`;
    const first = owners.get(key);
    if (first === undefined) {
      owners.set(key, canary);
      continue;
    }
    // A warning: kustomize overlays for different clusters legitimately repeat a Canary.
    canary.findings.push(
      warning(
        ['spec', 'targetRef'],
        `Canary "${first.name}" in the same namespace already targets ${kind} ${name}: two canaries would fight over the same workload`,
        true,
      ),
    );
  }
}
