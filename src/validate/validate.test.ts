import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { SchemaValidator } from '../api/validation.js';
import { compileSchemaValidator } from '../api/validator-compiler.js';
import { ROUTER_TRAITS, SPEC_PROVIDER_NAMES, type MatchOperator } from '../routers/traits.js';
import { formatJson, formatText } from './format.js';
import { validateInputs, type LocatedFinding } from './validate.js';

let validator: SchemaValidator;
beforeAll(() => {
  validator = compileSchemaValidator();
});

/** A complete, valid nginx canary; each test changes one thing. */
function newTestCanary(): Record<string, any> {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      provider: 'nginx',
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'podinfo' },
      service: { port: 80, targetPort: 9898 },
      analysis: {
        interval: '1m',
        threshold: 5,
        maxWeight: 50,
        stepWeight: 10,
        metrics: [{ name: 'request-success-rate', interval: '1m', thresholdRange: { min: 99 } }],
        webhooks: [{ name: 'load-test', url: 'http://flagger-loadtester.test/', timeout: '5s' }],
      },
    },
  };
}

/** Turns the test canary into an A/B test on one match entry. */
function abTest(canary: Record<string, any>, match: Record<string, unknown>): void {
  delete canary.spec.analysis.stepWeight;
  delete canary.spec.analysis.maxWeight;
  canary.spec.analysis.iterations = 10;
  canary.spec.analysis.match = [match];
}

function check(...objects: unknown[]): { errors: LocatedFinding[]; warnings: LocatedFinding[] } {
  const text = objects.map((object) => stringify(object)).join('---\n');
  const report = validateInputs({ texts: [{ file: 'test.yaml', text }], unreadable: [] }, { validator });
  const all = report.files.flatMap((file) => file.objects);
  return {
    errors: all.flatMap((object) => object.errors),
    warnings: all.flatMap((object) => object.warnings),
  };
}

const summaries = (findings: LocatedFinding[]) =>
  findings.map((finding) => `${finding.path}: ${finding.message}`);

describe('validate: Canary', () => {
  it('accepts the base canary without findings', () => {
    expect(check(newTestCanary())).toEqual({ errors: [], warnings: [] });
  });

  it.each([
    [
      'stepWeight with iterations',
      (c: any) => (c.spec.analysis.iterations = 10),
      /iterations cannot be combined with stepWeight/,
    ],
    [
      'no progression field',
      (c: any) => delete c.spec.analysis.stepWeight,
      /set one of stepWeight or stepWeights/,
    ],
    [
      'no threshold',
      (c: any) => delete c.spec.analysis.threshold,
      /analysis.threshold: missing required field "threshold"/,
    ],
    [
      'match without iterations',
      (c: any) => (c.spec.analysis.match = [{ headers: { 'x-canary': { exact: 'insider' } } }]),
      /match: A\/B testing \(match\) needs iterations/,
    ],
    [
      'an interval that is not a duration',
      (c: any) => (c.spec.analysis.interval = '1mins'),
      /"1mins" is not a duration/,
    ],
    [
      'a metric interval PromQL cannot take',
      (c: any) => (c.spec.analysis.metrics[0].interval = '1m30'),
      /cannot go into a PromQL range selector/,
    ],
    [
      'an unknown webhook type',
      (c: any) => (c.spec.analysis.webhooks[0].type = 'pre-rolout'),
      /did you mean "pre-rollout"\?/,
    ],
    [
      'a webhook timeout that is not a duration',
      (c: any) => (c.spec.analysis.webhooks[0].timeout = '5sec'),
      /"5sec" is not a duration/,
    ],
    [
      'a non-http webhook',
      (c: any) => (c.spec.analysis.webhooks[0].url = 'ftp://loadtester/'),
      /must start with http:\/\//,
    ],
    [
      'a relative webhook URL',
      (c: any) => (c.spec.analysis.webhooks[0].url = 'flagger-loadtester.test/'),
      /must be an absolute URL/,
    ],
    [
      'a severity near miss',
      (c: any) =>
        (c.spec.analysis.alerts = [{ name: 'on-call', severity: 'warning', providerRef: { name: 'slack' } }]),
      /did you mean "warn"\?/,
    ],
    [
      'equal session cookies',
      (c: any) => {
        c.spec.provider = 'istio';
        delete c.spec.ingressRef;
        c.spec.analysis.sessionAffinity = { cookieName: 'c', primaryCookieName: 'c' };
      },
      /primaryCookieName: must differ from cookieName/,
    ],
    [
      'nginx without ingressRef',
      (c: any) => delete c.spec.ingressRef,
      /the nginx provider needs spec.ingressRef/,
    ],
    [
      'nginx with a prefix header match',
      (c: any) => {
        c.spec.analysis.iterations = 5;
        delete c.spec.analysis.stepWeight;
        delete c.spec.analysis.maxWeight;
        c.spec.analysis.match = [{ headers: { user: { prefix: 'beta' } } }];
      },
      /the nginx router matches headers by exact or regex only, not prefix/,
    ],
    [
      // The SMI TrafficSplit has no header routing: A/B would send every request to the canary.
      'A/B testing on an SMI router',
      (c: any) => {
        c.spec.provider = 'smi:v1alpha3';
        delete c.spec.ingressRef;
        abTest(c, { headers: { 'x-canary': { exact: 'insider' } } });
      },
      /the smi:v1alpha3 router cannot route by header or cookie: A\/B testing would send all traffic to the canary/,
    ],
    [
      'A/B testing on apisix',
      (c: any) => {
        c.spec.provider = 'apisix';
        c.spec.routeRef = { apiVersion: 'apisix.apache.org/v2', kind: 'ApisixRoute', name: 'podinfo' };
        abTest(c, { headers: { 'x-canary': { exact: 'insider' } } });
      },
      /the apisix router cannot route by header or cookie/,
    ],
    [
      'a prefix header match on Gateway API',
      (c: any) => {
        c.spec.provider = 'gatewayapi:v1';
        delete c.spec.ingressRef;
        c.spec.service.gatewayRefs = [{ name: 'public', namespace: 'gateway' }];
        abTest(c, { headers: { user: { prefix: 'beta' } } });
      },
      /the gatewayapi:v1 router matches headers by exact or regex only, not prefix/,
    ],
    ['a fractional weight', (c: any) => (c.spec.analysis.stepWeight = 2.5), /must be a whole number/],
    [
      'a typo in a field name',
      (c: any) => {
        c.spec.analysis.stepWieght = c.spec.analysis.stepWeight;
        delete c.spec.analysis.stepWeight;
      },
      /unknown field "stepWieght".*did you mean spec.analysis.stepWeight\?/,
    ],
    [
      'a field one level too high',
      (c: any) => (c.spec.interval = '1m'),
      /unknown field "interval".*did you mean spec.analysis.interval\?/,
    ],
    [
      'an unknown built-in metric',
      (c: any) => (c.spec.analysis.metrics[0].name = 'request-sucess-rate'),
      /did you mean "request-success-rate"\?/,
    ],
    [
      'a min above the max',
      (c: any) => (c.spec.analysis.metrics[0].thresholdRange = { min: 99, max: 90 }),
      /min 99 is above max 90/,
    ],
    ['a provider near miss', (c: any) => (c.spec.provider = 'nginx-ingress'), /did you mean "nginx"\?/],
    [
      'a Knative target with another provider',
      (c: any) =>
        (c.spec.targetRef = { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'podinfo' }),
      /needs provider knative/,
    ],
    ['no service', (c: any) => delete c.spec.service, /missing "service"/],
    [
      'unsorted stepWeights',
      (c: any) => {
        delete c.spec.analysis.stepWeight;
        delete c.spec.analysis.maxWeight;
        c.spec.analysis.stepWeights = [10, 5, 50];
      },
      /stepWeights\[1\]: steps must increase strictly/,
    ],
    [
      'a gatewayapi canary without gatewayRefs',
      (c: any) => {
        c.spec.provider = 'gatewayapi:v1';
        delete c.spec.ingressRef;
      },
      /needs spec.service.gatewayRefs/,
    ],
    [
      'A/B testing on traefik',
      (c: any) => {
        c.spec.provider = 'traefik';
        delete c.spec.ingressRef;
        c.spec.analysis.iterations = 5;
        delete c.spec.analysis.stepWeight;
        delete c.spec.analysis.maxWeight;
        c.spec.analysis.match = [{ headers: { 'x-canary': { exact: 'yes' } } }];
      },
      /A\/B testing would send all traffic to the canary/,
    ],
  ])('rejects %s', (_name, mutate, expected) => {
    const canary = newTestCanary();
    mutate(canary);
    expect(summaries(check(canary).errors).join('\n')).toMatch(expected);
  });

  it.each([
    [
      'a maxWeight that is not a multiple of stepWeight',
      (c: any) => {
        c.spec.analysis.stepWeight = 20;
      },
      /maxWeight 50 is not a multiple of stepWeight 20: the last step overshoots to 60%/,
    ],
    ['an interval under 10s', (c: any) => (c.spec.analysis.interval = '5s'), /below the 10s minimum/],
    [
      'a success rate written as a fraction',
      (c: any) => (c.spec.analysis.metrics[0].thresholdRange.min = 0.99),
      /did you mean 99\?/,
    ],
    [
      'a latency written in seconds',
      (c: any) => c.spec.analysis.metrics.push({ name: 'request-duration', thresholdRange: { max: 0.5 } }),
      /did you mean 500\?/,
    ],
    [
      'the kubernetes provider with match',
      (c: any) => {
        c.spec.provider = 'kubernetes';
        delete c.spec.ingressRef;
        c.spec.analysis.iterations = 5;
        delete c.spec.analysis.stepWeight;
        delete c.spec.analysis.maxWeight;
        c.spec.analysis.match = [{ headers: { a: { exact: 'b' } } }];
      },
      /match is dropped/,
    ],
    ['mirroring on nginx', (c: any) => (c.spec.analysis.mirror = true), /does not mirror traffic/],
    [
      'the deprecated threshold',
      (c: any) => {
        c.spec.analysis.metrics[0].threshold = 99;
        delete c.spec.analysis.metrics[0].thresholdRange;
      },
      /threshold is deprecated/,
    ],
    [
      'an old HPA apiVersion',
      (c: any) =>
        (c.spec.autoscalerRef = {
          apiVersion: 'autoscaling/v2beta2',
          kind: 'HorizontalPodAutoscaler',
          name: 'podinfo',
        }),
      /write apiVersion: autoscaling\/v2/,
    ],
    [
      'a match regex that is not RE2 syntax (a lookahead)',
      (c: any) => abTest(c, { headers: { 'x-user': { regex: '(?=admin).*' } } }),
      /spec\.analysis\.match\[0\]\.headers\.x-user\.regex: not RE2 syntax \(.*`\(\?=`\): Istio, Envoy and vireo local's router reject it/,
    ],
    [
      'a query parameter regex with a backreference',
      (c: any) => abTest(c, { queryParams: { user: { regex: '(a)\\1' } } }),
      /spec\.analysis\.match\[0\]\.queryParams\.user\.regex: not RE2 syntax \(.*invalid escape sequence/,
    ],
    [
      'slow rollout hooks',
      (c: any) => (c.spec.analysis.webhooks[0].timeout = '2m'),
      /up to 2m together, not less than the 1m interval/,
    ],
  ])('warns about %s without failing', (_name, mutate, expected) => {
    const canary = newTestCanary();
    mutate(canary);
    const { errors, warnings } = check(canary);
    expect(errors).toEqual([]);
    expect(summaries(warnings).join('\n')).toMatch(expected);
  });

  it('accepts RE2 match regexes, Flagger cookie rule and case-insensitive flag included', () => {
    const canary = newTestCanary();
    abTest(canary, {
      headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' }, 'x-user': { regex: '(?i)admin|ops' } },
      queryParams: { beta: { regex: '(a+)+' } },
    });
    expect(check(canary)).toEqual({ errors: [], warnings: [] });
  });

  it('reports a deprecated canaryAnalysis with the fix, and checks its content in place', () => {
    const canary = newTestCanary();
    canary.spec.canaryAnalysis = { ...canary.spec.analysis, stepWeight: 'ten' };
    delete canary.spec.analysis;
    expect(summaries(check(canary).errors)).toEqual([
      expect.stringMatching(
        /^spec.analysis: missing required field "analysis": rename the deprecated canaryAnalysis/,
      ),
      'spec.canaryAnalysis.stepWeight: must be a number, not the string "ten"',
    ]);
  });
});

/** A value for each field a router requires (the router table's requiredReferences). */
const REQUIRED_VALUES: Record<string, unknown> = {
  'spec.ingressRef': { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'podinfo' },
  'spec.routeRef': { apiVersion: 'apisix.apache.org/v2', kind: 'ApisixRoute', name: 'podinfo' },
  'spec.service.meshName': 'global',
  'spec.service.gatewayRefs': [{ name: 'public', namespace: 'gateway' }],
};

/** A valid canary for `provider`: its required references set, a Knative target where it needs one. */
function canaryFor(provider: (typeof SPEC_PROVIDER_NAMES)[number]): Record<string, any> {
  const router = ROUTER_TRAITS[provider];
  const canary = newTestCanary();
  canary.spec.provider = provider;
  delete canary.spec.ingressRef;
  if (router.knativeTarget) {
    canary.spec.targetRef = { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'podinfo' };
    delete canary.spec.service;
  }
  for (const reference of router.requiredReferences) {
    const path = reference.path.join('.');
    expect(REQUIRED_VALUES, `a value for ${path}`).toHaveProperty([path]);
    let node = canary;
    for (const key of reference.path.slice(0, -1)) node = node[key] ??= {};
    node[reference.path.at(-1)!] = REQUIRED_VALUES[path];
  }
  return canary;
}

const OPERATORS: MatchOperator[] = ['exact', 'prefix', 'suffix', 'regex'];

describe('validate knows every router’s constraints from the router table', () => {
  it.each(SPEC_PROVIDER_NAMES)('%s: a canary with its required references passes', (provider) => {
    expect(summaries(check(canaryFor(provider)).errors)).toEqual([]);
  });

  it.each(SPEC_PROVIDER_NAMES)(
    '%s: each required reference, when missing, is an error naming it',
    (provider) => {
      for (const reference of ROUTER_TRAITS[provider].requiredReferences) {
        const canary = canaryFor(provider);
        let node = canary;
        for (const key of reference.path.slice(0, -1)) node = node[key];
        delete node[reference.path.at(-1)!];
        expect(summaries(check(canary).errors)).toContainEqual(
          expect.stringContaining(`${reference.path.join('.')}: the ${provider} provider needs`),
        );
      }
    },
  );

  it.each(SPEC_PROVIDER_NAMES)(
    '%s: A/B testing on each header operator is refused where the router cannot route by it, naming spec.analysis.match',
    (provider) => {
      const router = ROUTER_TRAITS[provider];
      for (const operator of OPERATORS) {
        const canary = canaryFor(provider);
        abTest(canary, { headers: { 'x-canary': { [operator]: 'insider' } } });
        const { errors, warnings } = check(canary);
        const matchErrors = summaries(errors).filter((line) => line.startsWith('spec.analysis.match'));
        if (router.dropsMatch) {
          expect(matchErrors).toEqual([]);
          expect(summaries(warnings)).toContainEqual(
            expect.stringMatching(/^spec\.analysis\.match: .*dropped/),
          );
        } else if (router.headerMatch.length === 0) {
          expect(matchErrors).toEqual([
            `spec.analysis.match: the ${provider} router cannot route by header or cookie: A/B testing would send all traffic to the canary`,
          ]);
        } else if (router.headerMatch.includes(operator)) {
          expect(matchErrors).toEqual([]);
        } else {
          expect(matchErrors).toEqual([
            `spec.analysis.match[0].headers.x-canary: the ${provider} router matches headers by ${router.headerMatch.join(' or ')} only, not ${operator}`,
          ]);
        }
      }
    },
  );

  it.each(SPEC_PROVIDER_NAMES)(
    '%s: mirroring in the canary strategy is flagged where the router does not mirror',
    (provider) => {
      const canary = canaryFor(provider);
      canary.spec.analysis.mirror = true;
      const mirrorWarnings = summaries(check(canary).warnings).filter((line) =>
        line.startsWith('spec.analysis.mirror:'),
      );
      expect(mirrorWarnings).toHaveLength(ROUTER_TRAITS[provider].mirrorInCanary ? 0 : 1);
    },
  );

  it.each(SPEC_PROVIDER_NAMES.filter((provider) => !ROUTER_TRAITS[provider].knativeTarget))(
    '%s: a Knative Service target is refused, naming the provider that routes it',
    (provider) => {
      const canary = canaryFor(provider);
      canary.spec.targetRef = { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'podinfo' };
      expect(summaries(check(canary).errors)).toContainEqual(
        expect.stringContaining(`a Knative Service target needs provider knative, not ${provider}`),
      );
    },
  );
});

describe('validate: references between objects', () => {
  const template = (namespace: string, query = 'sum(rate(x{ns="{{ namespace }}"}[{{ interval }}]))') => ({
    apiVersion: 'flagger.app/v1beta1',
    kind: 'MetricTemplate',
    metadata: { name: 'errors', namespace },
    spec: { provider: { type: 'prometheus', address: 'http://prometheus:9090' }, query },
  });
  const withTemplateMetric = (variables?: Record<string, string>) => {
    const canary = newTestCanary();
    canary.spec.analysis.metrics.push({
      name: 'errors',
      templateRef: { name: 'errors' },
      thresholdRange: { max: 1 },
      ...(variables === undefined ? {} : { templateVariables: variables }),
    });
    return canary;
  };

  it('resolves a templateRef in the canary namespace', () => {
    expect(check(withTemplateMetric(), template('test')).errors).toEqual([]);
  });

  it('names the namespace when the template lives elsewhere', () => {
    expect(summaries(check(withTemplateMetric(), template('istio-system')).errors)).toEqual([
      expect.stringContaining(
        'MetricTemplate "errors" is in namespace istio-system, but this reference looks in namespace test: set namespace: istio-system',
      ),
    ]);
  });

  it('requires every template variable the query uses', () => {
    const query = 'sum(rate(x{ingress="{{ variables.ingress_name }}"}[{{ interval }}]))';
    expect(summaries(check(withTemplateMetric(), template('test', query)).errors)).toEqual([
      expect.stringContaining('uses {{ variables.ingress_name }}: add ingress_name to templateVariables'),
    ]);
    expect(check(withTemplateMetric({ ingress_name: 'podinfo' }), template('test', query)).errors).toEqual(
      [],
    );
  });

  it('rejects an unknown template field', () => {
    expect(summaries(check(template('test', 'up{pod="{{ pod }}"}')).errors)).toEqual([
      expect.stringContaining('unknown template field {{ pod }}'),
    ]);
  });
});

describe('validate: AlertProvider and MetricTemplate', () => {
  it('requires an address or a secretRef', () => {
    const provider = {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'AlertProvider',
      metadata: { name: 'chat' },
      spec: { type: 'slack' },
    };
    expect(summaries(check(provider).errors)).toEqual([
      'spec: set address, or secretRef naming a Secret whose key "address" holds the URL',
    ]);
  });

  it('requires a region for cloudwatch and an address for prometheus', () => {
    const template = (type: string) => ({
      apiVersion: 'flagger.app/v1beta1',
      kind: 'MetricTemplate',
      metadata: { name: type },
      spec: { provider: { type }, query: 'q' },
    });
    expect(summaries(check(template('cloudwatch')).errors)).toEqual([
      expect.stringContaining('spec.provider.region: the cloudwatch provider needs a region'),
    ]);
    expect(summaries(check(template('prometheus')).errors)).toEqual([
      expect.stringContaining('spec.provider.address: the prometheus provider needs an address'),
    ]);
  });
});

describe('YAML that parses but cannot be resolved', () => {
  it('reports an alias to an undefined anchor as unreadable input instead of throwing', () => {
    const text =
      'apiVersion: flagger.app/v1beta1\nkind: MetricTemplate\nmetadata:\n  name: *newrelic-error-rate\n';
    const report = validateInputs({ texts: [{ file: 'alias.yaml', text }], unreadable: [] }, { validator });
    expect(report.files[0]?.unreadable?.reason).toBe(
      'invalid YAML: an alias (*name) refers to an anchor that is not defined before it',
    );
    // The alias is a piece of the source, which may be a Secret's value.
    expect(JSON.stringify(report)).not.toContain('newrelic-error-rate');
  });
});

describe('YAML syntax errors', () => {
  const unreadable = (text: string) =>
    validateInputs({ texts: [{ file: 'bad.yaml', text }], unreadable: [] }, { validator }).files[0]
      ?.unreadable;

  it('name the key they sit under instead of ending at a colon', () => {
    const text = 'apiVersion: flagger.app/v1beta1\nkind: Canary\nspec:\n  analysis:\n    interval: 1m: 30s\n';
    expect(unreadable(text)).toEqual({
      reason: expect.stringMatching(/^a value holds ": ".*\(at key spec\.analysis\.interval\)$/),
      line: 5,
      column: 15,
    });
  });

  it("never quote a Secret's line", () => {
    for (const value of ['"abc\\qs3cr3t-value"', 's3cr3t-value: more', '@s3cr3t-value', "'a' s3cr3t-value"]) {
      const text = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  token: ${value}\n`;
      const found = unreadable(text);
      expect(found?.reason).toContain('(at key stringData.token)');
      expect(JSON.stringify(found)).not.toMatch(/s3cr3t|\\q/);
    }
  });
});

describe('names', () => {
  it('are checked as the API server would: a DNS-1123 name and namespace', () => {
    const canary = newTestCanary();
    canary['metadata'] = { name: 'Podinfo_v2', namespace: 'Test.NS' };
    expect(summaries(check(canary).errors)).toEqual([
      'metadata.name: "Podinfo_v2" is not a valid Kubernetes name: use lowercase letters, digits, \'-\' and \'.\', starting and ending with a letter or digit (the API server would reject it); for example "podinfo-v2"',
      'metadata.namespace: "Test.NS" is not a valid namespace: use lowercase letters, digits and \'-\', starting and ending with a letter or digit (the API server would reject it); for example "test-ns"',
    ]);
    canary['metadata'] = { name: `a${'.b'.repeat(127)}`, namespace: 'x'.repeat(64) };
    expect(summaries(check(canary).errors)).toEqual([
      'metadata.name: is 255 characters long: a name has at most 253',
      'metadata.namespace: is 64 characters long: a namespace has at most 63',
    ]);
  });

  it('holding control characters print escaped, in text and in JSON', () => {
    const canary = newTestCanary();
    canary['metadata'] = { name: 'pod\u001b[2J\u009b31minfo\u2028x', namespace: 'test' };
    canary['spec'].analysis['\u001b]0;pwned\u0007'] = 1;
    const text = stringify(canary);
    const report = validateInputs(
      { texts: [{ file: 'evil\u001b.yaml', text }], unreadable: [] },
      { validator },
    );
    const printed = formatText(report);
    // eslint-disable-next-line no-control-regex
    expect(printed).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028]/);
    expect(printed).toContain('Canary/pod\\x1b[2J\\x9b31minfo\\u2028x metadata.name:');
    expect(printed).toContain('evil\\x1b.yaml:');
    expect(printed).toContain('unknown field "\\x1b]0;pwned\\x07"');
    // eslint-disable-next-line no-control-regex
    expect(formatJson(report)).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028]/);
    expect(JSON.parse(formatJson(report))).toEqual(report);
  });
});

describe('Workloads (local mode)', () => {
  const workload = (spec: Record<string, unknown>, fields: Record<string, unknown> = {}) => ({
    apiVersion: 'local.vireo.dev/v1alpha1',
    kind: 'Workload',
    metadata: { name: 'web', namespace: 'local' },
    spec,
    ...fields,
  });
  const canary = () => ({
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'web', namespace: 'local' },
    spec: {
      targetRef: { apiVersion: 'local.vireo.dev/v1alpha1', kind: 'Workload', name: 'web' },
      service: { port: 8080 },
      analysis: { interval: '30s', threshold: 2, maxWeight: 50, stepWeight: 10 },
    },
  });

  it('are checked, not skipped: a valid one passes', () => {
    const report = validateInputs(
      {
        texts: [
          {
            file: 'web.yaml',
            text: [workload({ command: 'node', replicas: 2 }), canary()]
              .map((o) => stringify(o))
              .join('---\n'),
          },
        ],
        unreadable: [],
      },
      { validator },
    );
    expect(report.summary).toMatchObject({ objects: 2, skipped: 0, errors: 0, warnings: 0 });
  });

  it('name a misspelt field, where it is, and what was meant', () => {
    const { errors } = check(workload({ comand: 'node', replica: 2 }), canary());
    expect(
      errors.map((finding) => `${finding.line}:${finding.column} ${finding.path}: ${finding.message}`),
    ).toEqual([
      '6:1 spec.command: missing required field "command"',
      '7:3 spec.comand: unknown field "comand" (local mode refuses it); did you mean spec.command?',
      '8:3 spec.replica: unknown field "replica" (local mode refuses it); did you mean spec.replicas?',
    ]);
  });

  it('name a wrong apiVersion and a misspelt kind, without a cascade about the Canary target', () => {
    expect(
      summaries(check(workload({ command: 'node' }, { apiVersion: 'local.vireo.dev/v1' }), canary()).errors),
    ).toEqual(['apiVersion: must be "local.vireo.dev/v1alpha1", not the string "local.vireo.dev/v1"']);
    expect(summaries(check(workload({ command: 'node' }, { kind: 'Workloads' }), canary()).errors)).toEqual([
      'kind: "Workloads" is not a local.vireo.dev kind; did you mean "Workload"?',
    ]);
  });

  it('refuse what the supervisor would refuse at apply time', () => {
    expect(
      summaries(
        check(
          workload({ command: '  ', port: 65_535, replicas: 2, readiness: { httpPath: 'readyz' } }),
          canary(),
        ).errors,
      ),
    ).toEqual([
      'spec.command: must name a program, such as node or ./server',
      'spec.port: leaves no room for 2 replicas: replica i listens on port + i, and 65536 is above 65535',
      'spec.readiness.httpPath: the string "readyz" must be a path starting with \'/\', such as /readyz',
    ]);
  });

  it('must sit in the Canary’s file and namespace', () => {
    const other = {
      ...canary(),
      spec: {
        ...canary().spec,
        targetRef: { apiVersion: 'local.vireo.dev/v1alpha1', kind: 'Workload', name: 'wep' },
      },
    };
    expect(summaries(check(workload({ command: 'node' }), other).errors)).toEqual([
      'spec.targetRef: no Workload "wep" in namespace local in this file; did you mean "web"? (local mode runs the Workloads of the Canary\'s file)',
    ]);
  });
});
