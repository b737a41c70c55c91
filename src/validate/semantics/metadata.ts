/**
 * Object names as the API server checks them: a custom resource's name is a DNS-1123 subdomain
 * and a namespace a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a
 * letter or digit). A name the API server would reject is an error here, not at apply time.
 */
import { error, type Finding } from '../finding.js';
import { asFields, asText, type Fields } from './read.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function checkMetadata(object: Fields): Finding[] {
  const metadata = asFields(object['metadata']);
  if (metadata === undefined) return [];
  const findings: Finding[] = [];
  const name = asText(metadata['name']);
  if (name !== undefined) {
    const problem = subdomainProblem(name);
    if (problem !== undefined) findings.push(error(['metadata', 'name'], problem));
  }
  const namespace = asText(metadata['namespace']);
  if (namespace !== undefined) {
    const problem = labelProblem(namespace);
    if (problem !== undefined) findings.push(error(['metadata', 'namespace'], problem));
  }
  return findings;
}

function suggestion(text: string): string {
  const lowered = text
    .toLowerCase()
    .replace(/[^-a-z0-9.]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return lowered === '' || lowered === text ? '' : `; for example "${lowered}"`;
}

/** Why `name` is not a DNS-1123 subdomain (the API server's rule for object names), or undefined. */
export function subdomainProblem(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  if (name.length > 253) return `is ${name.length} characters long: a name has at most 253`;
  if (DNS1123_SUBDOMAIN.test(name)) return undefined;
  return `${JSON.stringify(name)} is not a valid Kubernetes name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (the API server would reject it)${suggestion(name)}`;
}

/** Why `namespace` is not a DNS-1123 label (the API server's rule for namespaces), or undefined. */
export function labelProblem(namespace: string): string | undefined {
  if (namespace === '') return 'must not be empty: leave namespace out to use the current one';
  if (namespace.length > 63) return `is ${namespace.length} characters long: a namespace has at most 63`;
  if (DNS1123_LABEL.test(namespace)) return undefined;
  return `${JSON.stringify(namespace)} is not a valid namespace: use lowercase letters, digits and '-', starting and ending with a letter or digit (the API server would reject it)${suggestion(namespace).replace(/\./g, '-')}`;
}
