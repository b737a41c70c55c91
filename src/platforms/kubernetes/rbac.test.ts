import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { kindsWrittenBy } from '../../routers/traits.js';
import { WATCHED } from './controller.js';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** The verbs the ClusterRole of kustomize/base/rbac.yaml grants on one resource. */
function grantedVerbs(group: string, plural: string): Set<string> {
  const path = join(import.meta.dirname, '..', '..', '..', 'kustomize', 'base', 'rbac.yaml');
  const documents = parseAllDocuments(readFileSync(path, 'utf8')).map(
    (document) => document.toJS() as { kind: string; rules?: Rule[] },
  );
  const role = documents.find((document) => document.kind === 'ClusterRole');
  const verbs = new Set<string>();
  for (const rule of role?.rules ?? []) {
    if (rule.apiGroups.includes(group) && rule.resources.includes(plural)) {
      for (const verb of rule.verbs) verbs.add(verb);
    }
  }
  return verbs;
}

describe('controller RBAC and watches follow the router table', () => {
  it.each(kindsWrittenBy('kubernetes').map((kind) => [`${kind.plural}.${kind.group}`, kind] as const))(
    'may read, watch and write %s, which an implemented router writes (and watches once in use)',
    (_name, kind) => {
      expect([...grantedVerbs(kind.group, kind.plural)].sort()).toEqual(
        expect.arrayContaining(['create', 'get', 'list', 'patch', 'update', 'watch']),
      );
    },
  );

  it.each(WATCHED.map((resource) => [`${resource.plural}.${resource.group}`, resource] as const))(
    'may list and watch %s, which the controller caches',
    (_name, resource) => {
      expect([...grantedVerbs(resource.group, resource.plural)]).toEqual(
        expect.arrayContaining(['get', 'list', 'watch']),
      );
    },
  );
});
