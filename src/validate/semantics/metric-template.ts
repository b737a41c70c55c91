/** MetricTemplate checks: what each provider needs (docs/flagger-compatibility.md#42-metric-templates-and-providers) and the query's template fields. */
import { error, warning, type Finding } from '../finding.js';
import { asFields, asText, isSet, type Fields } from './read.js';

/** The fields a query may use (docs/flagger-compatibility.md#42-metric-templates-and-providers "Rendering"); `variables.KEY` comes from the Canary. */
export const TEMPLATE_FIELDS = [
  'name',
  'namespace',
  'target',
  'service',
  'ingress',
  'route',
  'interval',
] as const;

// Only where the provider has no default and no other source for it (datadog and newrelic have
// public defaults; Flagger's influxdb example has none in the spec).
const NEEDS_ADDRESS = new Set(['prometheus', 'graphite']);
const NEEDS_SECRET: Record<string, string> = {
  datadog: 'datadog_api_key and datadog_application_key',
  newrelic: 'newrelic_account_id and newrelic_query_key',
  dynatrace: 'dynatrace_token',
  splunk: 'sf_token_key',
  stackdriver: 'project (and optionally serviceAccountKey)',
  influxdb: 'token and org',
};

/** Go text/template built-in functions, allowed around the fields (e.g. a skipper printf). */
const GO_TEMPLATE_FUNCTIONS = new Set([
  'and',
  'call',
  'html',
  'index',
  'slice',
  'js',
  'len',
  'not',
  'or',
  'print',
  'printf',
  'println',
  'urlquery',
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
]);

export interface TemplateReference {
  kind: 'field' | 'variable' | 'unsupported';
  name: string;
  /** Offset of `{{` in the query. */
  offset: number;
}

/** Lists the `{{ … }}` actions of a query. */
export function templateReferences(query: string): TemplateReference[] {
  const references: TemplateReference[] = [];
  for (const match of query.matchAll(/\{\{-?\s*(.*?)\s*-?\}\}/g)) {
    const expression = (match[1] ?? '').trim();
    const offset = match.index;
    const variable = /^\.?variables\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expression);
    if (variable !== null) references.push({ kind: 'variable', name: variable[1] ?? '', offset });
    else if (/^\.?[A-Za-z_][A-Za-z0-9_]*$/.test(expression))
      references.push({ kind: 'field', name: expression.replace(/^\./, ''), offset });
    else references.push(...referencesInPipeline(expression, offset));
  }
  return references;
}

/** Identifiers in a pipeline such as `printf "%s_%s" namespace target`, outside string literals. */
function referencesInPipeline(expression: string, offset: number): TemplateReference[] {
  const withoutStrings = expression.replace(/"(?:[^"\\]|\\.)*"|`[^`]*`/g, ' ');
  if (
    /[{}]|:=|\$/.test(withoutStrings) ||
    /^\s*(if|else|end|range|with|define|template|block)\b/.test(withoutStrings)
  ) {
    return [{ kind: 'unsupported', name: expression, offset }];
  }
  const references: TemplateReference[] = [];
  for (const token of withoutStrings.split(/[\s()|]+/).filter((part) => part !== '')) {
    if (/^-?[0-9.]+$/.test(token) || GO_TEMPLATE_FUNCTIONS.has(token)) continue;
    const variable = /^\.?variables\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(token);
    if (variable !== null) references.push({ kind: 'variable', name: variable[1] ?? '', offset });
    else if (/^\.?[A-Za-z_][A-Za-z0-9_]*$/.test(token))
      references.push({ kind: 'field', name: token.replace(/^\./, ''), offset });
    else return [{ kind: 'unsupported', name: expression, offset }];
  }
  return references;
}

export function checkMetricTemplate(template: Fields): Finding[] {
  const spec = asFields(template['spec']);
  const provider = asFields(spec?.['provider']);
  if (spec === undefined || provider === undefined) return [];
  const findings: Finding[] = [];
  const type = asText(provider['type']) ?? '';
  const address = asText(provider['address']);
  if (NEEDS_ADDRESS.has(type) && address === undefined) {
    findings.push(
      error(
        ['spec', 'provider', 'address'],
        `the ${type} provider needs an address, such as ${type === 'prometheus' ? 'http://prometheus.monitoring:9090' : 'the API URL'}`,
      ),
    );
  }
  if (address !== undefined && type !== 'keptn' && !/^https?:\/\/[^\s]+$/i.test(address)) {
    findings.push(error(['spec', 'provider', 'address'], `"${address}" must be an http:// or https:// URL`));
  }
  const secretKeys = NEEDS_SECRET[type];
  if (secretKeys !== undefined && !isSet(provider['secretRef'])) {
    findings.push(
      error(
        ['spec', 'provider', 'secretRef'],
        `the ${type} provider needs secretRef naming a Secret with ${secretKeys}`,
      ),
    );
  }
  if (type === 'cloudwatch' && !isSet(provider['region'])) {
    findings.push(
      error(['spec', 'provider', 'region'], 'the cloudwatch provider needs a region, such as us-east-1'),
    );
  }
  if (isSet(provider['headers']) && type !== 'prometheus') {
    findings.push(
      warning(
        ['spec', 'provider', 'headers'],
        `headers are sent by the prometheus provider only; ${type} ignores them`,
        true,
      ),
    );
  }
  const query = asText(spec['query']);
  if (query !== undefined) {
    if (query.trim() === '') findings.push(error(['spec', 'query'], 'the query is empty'));
    for (const reference of templateReferences(query)) {
      if (reference.kind === 'field' && !(TEMPLATE_FIELDS as readonly string[]).includes(reference.name)) {
        findings.push(
          error(
            ['spec', 'query'],
            `unknown template field {{ ${reference.name} }}: use ${TEMPLATE_FIELDS.map((f) => `{{ ${f} }}`).join(', ')} or {{ variables.KEY }}`,
          ),
        );
      } else if (reference.kind === 'unsupported') {
        findings.push(
          warning(
            ['spec', 'query'],
            `{{ ${reference.name} }} is not one of the documented template fields; it is not checked`,
          ),
        );
      }
    }
  }
  return findings;
}
