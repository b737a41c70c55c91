/**
 * Canary checks beyond the schema: the analysis shape, weights, durations, webhooks, metrics and
 * what each router provider can and cannot do (docs/flagger-compatibility.md#1-resources to docs/flagger-compatibility.md#5-webhooks).
 */
import { isPrometheusDuration, parseGoDuration, formatDuration } from '../../api/duration.js';
import { LOCAL_WORKLOAD_API_VERSION } from '../../api/schema/workload-api.js';
import { deploymentStrategy, effectiveMaxWeight } from '../../engine/progression.js';
import {
  findRouter,
  resolveRouter,
  ROUTER_TRAITS,
  SPEC_PROVIDER_NAMES,
  type ResolvedRouter,
  type RouterTraits,
} from '../../routers/traits.js';
import { error, warning, type Finding } from '../finding.js';
import type { FieldPath } from '../path.js';
import { closestMatch } from '../suggest.js';
import { checkMatchRegexes } from './match-regex.js';
import { asFields, asList, asNumber, asText, isSet, type Fields } from './read.js';

export const BUILTIN_METRICS = ['request-success-rate', 'request-duration'] as const;
const MIN_INTERVAL_MS = 10_000;
export { LOCAL_WORKLOAD_API_VERSION };

export interface CanaryCheckOptions {
  /**
   * The --mesh-provider the canary will run with when spec.provider is unset (the controller's,
   * or the flag of `vireo validate`). Without it, provider checks apply only to canaries that name
   * their provider. An unknown name throws UnknownRouterError.
   */
  meshProvider?: string | undefined;
}

/** "a, b and c" of the routers whose trait holds, in table order. */
function routersWith(trait: (router: RouterTraits) => boolean): string {
  // Only the names a Canary can choose: local mode's router is not one.
  const names = SPEC_PROVIDER_NAMES.filter((name) => trait(ROUTER_TRAITS[name]));
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

export function checkCanary(canary: Fields, options: CanaryCheckOptions = {}): Finding[] {
  const spec = asFields(canary['spec']);
  if (spec === undefined) return [];
  const findings: Finding[] = [];
  const own = asText(spec['provider']);
  // An unknown spec.provider is the schema's error (its enum); an unknown flag is refused here.
  const router =
    own !== undefined
      ? findRouter(own)
      : options.meshProvider === undefined
        ? undefined
        : resolveRouter(options.meshProvider, { flag: '--mesh-provider' });
  const analysisKey = isSet(spec['analysis']) ? 'analysis' : 'canaryAnalysis';
  const analysis = asFields(spec[analysisKey]);
  const at = (...rest: (string | number)[]): FieldPath => ['spec', analysisKey, ...rest];

  if (isSet(spec['analysis']) && isSet(spec['canaryAnalysis'])) {
    findings.push(
      warning(
        ['spec', 'canaryAnalysis'],
        'ignored because analysis is set; remove the deprecated canaryAnalysis',
        true,
      ),
    );
  }
  findings.push(...checkService(spec, router));
  findings.push(...checkTarget(spec, router));
  if (analysis !== undefined) {
    findings.push(...checkAnalysisShape(analysis, at));
    findings.push(...checkWeights(analysis, at));
    findings.push(...checkIntervals(analysis, at));
    findings.push(...checkMetrics(analysis, at));
    findings.push(...checkWebhooks(analysis, at));
    findings.push(...checkSessionAffinity(analysis, at, router));
    findings.push(...checkMatchRegexes(analysis, at));
    if (router !== undefined) findings.push(...checkProvider(spec, analysis, at, router));
  }
  return findings;
}

function checkAnalysisShape(analysis: Fields, at: (...rest: (string | number)[]) => FieldPath): Finding[] {
  const findings: Finding[] = [];
  for (const field of ['interval', 'threshold'] as const) {
    if (!isSet(analysis[field])) {
      const example = field === 'interval' ? '1m' : '5';
      findings.push(
        error(
          at(field),
          `missing required field "${field}" (Flagger's CRD requires it; for example ${field}: ${example})`,
        ),
      );
    }
  }
  const progression = (['stepWeight', 'stepWeights', 'iterations'] as const).filter((field) =>
    isSet(analysis[field]),
  );
  if (progression.length === 0) {
    findings.push(
      error(
        at(),
        'set one of stepWeight or stepWeights (canary: shift traffic step by step) or iterations (A/B testing, blue/green)',
      ),
    );
  } else if (progression.length > 1) {
    const [kept, ...extra] = progression;
    for (const field of extra) {
      findings.push(
        error(
          at(field),
          `${field} cannot be combined with ${kept}: set exactly one of stepWeight, stepWeights or iterations`,
          true,
        ),
      );
    }
  }
  const hasMatch = asList(analysis['match']).length > 0;
  if (hasMatch && !((asNumber(analysis['iterations']) ?? 0) > 0)) {
    findings.push(
      error(
        at('match'),
        'A/B testing (match) needs iterations: without them the canary strategy runs and the match is ignored',
        true,
      ),
    );
  }
  const threshold = asNumber(analysis['threshold']);
  if (threshold !== undefined && threshold <= 0) {
    findings.push(
      warning(at('threshold'), `threshold ${threshold} is treated as 1: the first failed check rolls back`),
    );
  }
  return findings;
}

function checkWeights(analysis: Fields, at: (...rest: (string | number)[]) => FieldPath): Finding[] {
  const findings: Finding[] = [];
  const stepWeight = asNumber(analysis['stepWeight']);
  const maxWeight = asNumber(analysis['maxWeight']);
  const ladder = asList(analysis['stepWeights']);
  for (const [field, value] of [
    ['stepWeight', stepWeight],
    ['maxWeight', maxWeight],
    ['mirrorWeight', asNumber(analysis['mirrorWeight'])],
    ['stepWeightPromotion', asNumber(analysis['stepWeightPromotion'])],
    ['primaryReadyThreshold', asNumber(analysis['primaryReadyThreshold'])],
    ['canaryReadyThreshold', asNumber(analysis['canaryReadyThreshold'])],
  ] as const) {
    if (value !== undefined && (value < 0 || value > 100)) {
      findings.push(error(at(field), `${field} is a percentage: ${value} is outside 0-100`));
    }
  }
  if (stepWeight !== undefined && stepWeight === 0 && ladder.length === 0) {
    findings.push(
      error(at('stepWeight'), 'stepWeight 0 never shifts traffic: the canary would stay at 0% forever'),
    );
  }
  if (ladder.length > 0) {
    if (maxWeight !== undefined) {
      findings.push(
        warning(
          at('maxWeight'),
          `maxWeight is ignored when stepWeights is set (the last step, ${String(ladder.at(-1))}, is the maximum)`,
          true,
        ),
      );
    }
    let previous = 0;
    ladder.forEach((step, index) => {
      const weight = asNumber(step);
      if (weight === undefined) return;
      if (weight <= previous || weight > 100) {
        findings.push(
          error(
            at('stepWeights', index),
            `steps must increase strictly within 1-100: ${weight} comes after ${previous}`,
          ),
        );
      }
      previous = Math.max(previous, weight);
    });
  } else if (stepWeight !== undefined && stepWeight > 0) {
    const cap = effectiveMaxWeight({ maxWeight, stepWeights: [] });
    if (cap % stepWeight !== 0) {
      const overshoot = Math.min(100, Math.ceil(cap / stepWeight) * stepWeight);
      findings.push(
        warning(
          at(maxWeight === undefined ? 'stepWeight' : 'maxWeight'),
          `maxWeight ${cap} is not a multiple of stepWeight ${stepWeight}: the last step overshoots to ${overshoot}%`,
        ),
      );
    }
  }
  return findings;
}

function checkIntervals(analysis: Fields, at: (...rest: (string | number)[]) => FieldPath): Finding[] {
  const findings: Finding[] = [];
  const interval = asText(analysis['interval']);
  if (interval !== undefined) {
    const milliseconds = parseGoDuration(interval);
    if (milliseconds === undefined) {
      findings.push(
        error(
          at('interval'),
          `"${interval}" is not a duration (Flagger would silently use 60s); write it like 30s, 1m or 1m30s`,
        ),
      );
    } else if (milliseconds < MIN_INTERVAL_MS) {
      findings.push(
        warning(at('interval'), `interval ${interval} is below the 10s minimum: analysis runs every 10s`),
      );
    }
  }
  return findings;
}

function intervalMs(analysis: Fields): number {
  const parsed = parseGoDuration(asText(analysis['interval']) ?? '');
  return parsed === undefined ? 60_000 : Math.max(parsed, MIN_INTERVAL_MS);
}

function checkMetrics(analysis: Fields, at: (...rest: (string | number)[]) => FieldPath): Finding[] {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  asList(analysis['metrics']).forEach((entry, index) => {
    const metric = asFields(entry);
    if (metric === undefined) return;
    const path = (...rest: string[]) => at('metrics', index, ...rest);
    const name = asText(metric['name']) ?? '';
    if (seen.has(name)) findings.push(warning(path('name'), `metric "${name}" is listed twice`));
    seen.add(name);
    const builtin = (BUILTIN_METRICS as readonly string[]).includes(name);
    const templated = isSet(metric['templateRef']);
    const inline = isSet(metric['query']);
    if (!builtin && !templated && !inline && name !== '') {
      const nearMiss = closestMatch(name, BUILTIN_METRICS);
      findings.push(
        error(
          path('name'),
          nearMiss === undefined
            ? `"${name}" is not a built-in metric (${BUILTIN_METRICS.join(', ')}): add templateRef naming a MetricTemplate`
            : `"${name}" is not a built-in metric; did you mean "${nearMiss}"? Otherwise add templateRef naming a MetricTemplate`,
        ),
      );
    }
    if (templated && inline)
      findings.push(warning(path('query'), 'query is ignored when templateRef is set', true));
    if (inline && !templated)
      findings.push(
        warning(
          path('query'),
          'inline query is deprecated: move it into a MetricTemplate and use templateRef',
          true,
        ),
      );
    if (isSet(metric['threshold'])) {
      findings.push(
        warning(
          path('threshold'),
          'threshold is deprecated: use thresholdRange (min for success rates, max for latencies)',
          true,
        ),
      );
    }
    const metricInterval = asText(metric['interval']);
    if (metricInterval !== undefined && !isPrometheusDuration(metricInterval)) {
      findings.push(
        error(
          path('interval'),
          `"${metricInterval}" cannot go into a PromQL range selector: use whole units such as 30s, 1m or 1h30m`,
        ),
      );
    }
    findings.push(...checkThresholdRange(metric, name, builtin, path));
  });
  return findings;
}

function checkThresholdRange(
  metric: Fields,
  name: string,
  builtin: boolean,
  path: (...rest: string[]) => FieldPath,
): Finding[] {
  const findings: Finding[] = [];
  const range = asFields(metric['thresholdRange']);
  const min = asNumber(range?.['min']);
  const max = asNumber(range?.['max']);
  if (range === undefined && !isSet(metric['threshold'])) {
    findings.push(
      warning(
        path(),
        builtin
          ? `metric "${name}" has no thresholdRange: it can never fail`
          : `metric "${name}" has no thresholdRange: with no range and no threshold, any value above 0 fails the check`,
      ),
    );
  }
  if (min !== undefined && max !== undefined && min > max) {
    findings.push(
      error(path('thresholdRange'), `min ${min} is above max ${max}: every value fails the check`),
    );
  }
  if (name === 'request-success-rate') {
    if (min !== undefined && min > 0 && min < 1) {
      findings.push(
        warning(
          path('thresholdRange', 'min'),
          `the success rate is a percentage (0-100): ${min} accepts almost any error rate; did you mean ${min * 100}?`,
        ),
      );
    }
    if (min !== undefined && min > 100)
      findings.push(
        error(path('thresholdRange', 'min'), `a success rate cannot exceed 100%: ${min} always fails`),
      );
  }
  if (name === 'request-duration' && max !== undefined && max > 0 && max < 1) {
    findings.push(
      warning(
        path('thresholdRange', 'max'),
        `request-duration is in milliseconds: ${max} is under a millisecond; did you mean ${max * 1000}?`,
      ),
    );
  }
  return findings;
}

const ROLLOUT_TYPES = new Set(['', 'rollout']);

function checkWebhooks(analysis: Fields, at: (...rest: (string | number)[]) => FieldPath): Finding[] {
  const findings: Finding[] = [];
  const strategy = deploymentStrategy({
    iterations: asNumber(analysis['iterations']),
    match: asList(analysis['match']),
  });
  const names = new Set<string>();
  let rolloutTimeoutMs = 0;
  asList(analysis['webhooks']).forEach((entry, index) => {
    const hook = asFields(entry);
    if (hook === undefined) return;
    const path = (...rest: string[]) => at('webhooks', index, ...rest);
    const name = asText(hook['name']);
    if (name !== undefined) {
      if (names.has(name))
        findings.push(
          warning(
            path('name'),
            `webhook "${name}" is listed twice: events and gates will not tell them apart`,
          ),
        );
      names.add(name);
    }
    const type = asText(hook['type']) ?? '';
    const url = asText(hook['url']);
    if (url !== undefined && !/^https?:\/\/[^\s/]+/i.test(url)) {
      findings.push(
        error(
          path('url'),
          /^[a-z][a-z0-9+.-]*:\/\//i.test(url)
            ? `webhooks are called over HTTP: "${url}" must start with http:// or https://`
            : `"${url}" must be an absolute URL, such as http://flagger-loadtester.test/`,
        ),
      );
    }
    const timeout = asText(hook['timeout']);
    const timeoutMs = timeout === undefined ? 10_000 : parseGoDuration(timeout);
    if (timeout !== undefined && timeoutMs === undefined) {
      findings.push(error(path('timeout'), `"${timeout}" is not a duration: write it like 10s or 1m`));
    }
    if (ROLLOUT_TYPES.has(type)) rolloutTimeoutMs += timeoutMs ?? 0;
    if (type === 'confirm-traffic-increase' && strategy !== 'canary') {
      findings.push(
        warning(
          path('type'),
          `confirm-traffic-increase never runs with ${strategy === 'ab-testing' ? 'A/B testing' : 'blue/green'}: there is no weight to increase`,
        ),
      );
    }
    if (hook['muteAlert'] === true && !type.startsWith('confirm-')) {
      findings.push(warning(path('muteAlert'), 'muteAlert only affects confirm-* gates', true));
    }
  });
  const interval = intervalMs(analysis);
  if (rolloutTimeoutMs >= interval) {
    findings.push(
      warning(
        at('webhooks'),
        `the rollout webhooks may take up to ${formatDuration(rolloutTimeoutMs)} together, not less than the ${formatDuration(interval)} interval: steps will run late`,
        true,
      ),
    );
  }
  return findings;
}

function checkSessionAffinity(
  analysis: Fields,
  at: (...rest: (string | number)[]) => FieldPath,
  router: ResolvedRouter | undefined,
): Finding[] {
  const affinity = asFields(analysis['sessionAffinity']);
  if (affinity === undefined) return [];
  const findings: Finding[] = [];
  const cookie = asText(affinity['cookieName']);
  const primaryCookie = asText(affinity['primaryCookieName']);
  if (cookie !== undefined && cookie === primaryCookie) {
    findings.push(
      error(
        at('sessionAffinity', 'primaryCookieName'),
        `must differ from cookieName ("${cookie}"): one cookie cannot pin users to both sides`,
      ),
    );
  }
  if (router !== undefined && !router.sessionAffinity) {
    findings.push(
      warning(
        at('sessionAffinity'),
        `session affinity is implemented by the ${routersWith((each) => each.sessionAffinity)} routers only; ${router.given} ignores it`,
        true,
      ),
    );
  } else if (primaryCookie !== undefined && router !== undefined && !router.primarySessionAffinity) {
    findings.push(
      warning(
        at('sessionAffinity', 'primaryCookieName'),
        `primaryCookieName needs ${routersWith((each) => each.primarySessionAffinity)}; ${router.given} ignores it`,
        true,
      ),
    );
  }
  const maxAge = asNumber(affinity['maxAge']);
  if (maxAge !== undefined && maxAge < 0) {
    findings.push(
      error(at('sessionAffinity', 'maxAge'), 'maxAge must be 0 (one day) or a positive number of seconds'),
    );
  }
  return findings;
}

function checkService(spec: Fields, router: ResolvedRouter | undefined): Finding[] {
  const findings: Finding[] = [];
  const service = asFields(spec['service']);
  if (service === undefined) {
    if (router?.knativeTarget !== true && !isSet(spec['service'])) {
      findings.push(
        error(
          ['spec', 'service'],
          'missing "service": Vireo creates the apex, -primary and -canary Services from service.port',
        ),
      );
    }
    return findings;
  }
  const port = asNumber(service['port']);
  if (port !== undefined && (port < 1 || port > 65535)) {
    findings.push(error(['spec', 'service', 'port'], `port ${port} is outside 1-65535`));
  }
  if (service['delegation'] === true) {
    for (const field of ['hosts', 'gateways'] as const) {
      if (asList(service[field]).length > 0) {
        findings.push(
          error(
            ['spec', 'service', field],
            `must be empty with delegation: the delegate VirtualService takes its ${field} from the root`,
            true,
          ),
        );
      }
    }
  }
  asList(service['mirror']).forEach((entry, index) => {
    const mirror = asFields(entry);
    const backend = asFields(mirror?.['backendRef']);
    const path: FieldPath = ['spec', 'service', 'mirror', index];
    if (backend === undefined) {
      findings.push(
        error(path, 'each mirror needs a backendRef naming the Service that receives the copies'),
      );
      return;
    }
    const group = asText(backend['group']) ?? '';
    const kind = asText(backend['kind']) ?? 'Service';
    if (group === '' && kind === 'Service' && !isSet(backend['port'])) {
      findings.push(error([...path, 'backendRef'], 'Must have port for Service reference'));
    }
  });
  return findings;
}

function checkTarget(spec: Fields, router: ResolvedRouter | undefined): Finding[] {
  const findings: Finding[] = [];
  const target = asFields(spec['targetRef']);
  const kind = asText(target?.['kind']);
  const apiVersion = asText(target?.['apiVersion']);
  const knativeTarget = apiVersion?.startsWith('serving.knative.dev/') === true;
  if (kind === 'Workload' && apiVersion !== LOCAL_WORKLOAD_API_VERSION) {
    findings.push(
      error(
        ['spec', 'targetRef', 'apiVersion'],
        `a Workload target is a local-mode process set: write apiVersion ${LOCAL_WORKLOAD_API_VERSION}`,
      ),
    );
  }
  if (kind !== 'Workload' && apiVersion === LOCAL_WORKLOAD_API_VERSION) {
    findings.push(
      error(['spec', 'targetRef', 'kind'], `${LOCAL_WORKLOAD_API_VERSION} serves one kind: Workload`),
    );
  }
  if (
    (kind === 'Deployment' || kind === 'DaemonSet') &&
    apiVersion !== undefined &&
    apiVersion !== 'apps/v1'
  ) {
    // Flagger looks the target up by kind only, so this works; kubectl and GitOps tools will not.
    findings.push(
      warning(['spec', 'targetRef', 'apiVersion'], `a ${kind} is served as apps/v1, not ${apiVersion}`),
    );
  }
  if (router?.knativeTarget === true && !knativeTarget) {
    findings.push(
      error(
        ['spec', 'targetRef'],
        `the ${router.given} provider needs a Knative Service target (apiVersion serving.knative.dev/v1, kind Service)`,
        true,
      ),
    );
  }
  if (knativeTarget && router !== undefined && !router.knativeTarget) {
    findings.push(
      error(
        ['spec', 'provider'],
        `a Knative Service target needs provider ${routersWith((each) => each.knativeTarget)}, not ${router.given}`,
      ),
    );
  }
  const autoscaler = asFields(spec['autoscalerRef']);
  if (autoscaler !== undefined) {
    const scalerKind = asText(autoscaler['kind']);
    const scalerVersion = asText(autoscaler['apiVersion']);
    if (knativeTarget) {
      findings.push(
        error(['spec', 'autoscalerRef'], 'Knative scales its own revisions: remove autoscalerRef', true),
      );
    }
    if (
      scalerKind === 'HorizontalPodAutoscaler' &&
      scalerVersion !== undefined &&
      scalerVersion !== 'autoscaling/v2'
    ) {
      findings.push(
        warning(
          ['spec', 'autoscalerRef', 'apiVersion'],
          `${scalerVersion} is no longer served (removed in Kubernetes 1.25/1.26); the HPA is read through autoscaling/v2, so write apiVersion: autoscaling/v2`,
        ),
      );
    }
    if (
      scalerKind === 'ScaledObject' &&
      scalerVersion !== undefined &&
      !scalerVersion.startsWith('keda.sh/')
    ) {
      findings.push(
        warning(
          ['spec', 'autoscalerRef', 'apiVersion'],
          `a KEDA ScaledObject is served as keda.sh/v1alpha1, not ${scalerVersion}`,
        ),
      );
    }
    if (kind === 'DaemonSet') {
      findings.push(
        warning(
          ['spec', 'autoscalerRef'],
          'a DaemonSet runs one pod per node: the autoscaler has nothing to scale',
          true,
        ),
      );
    }
  }
  return findings;
}

/** What the canary's router can express (the router table, docs/routers/README.md). */
function checkProvider(
  spec: Fields,
  analysis: Fields,
  at: (...rest: (string | number)[]) => FieldPath,
  router: ResolvedRouter,
): Finding[] {
  const findings: Finding[] = [];
  const provider = router.given;
  const strategy = deploymentStrategy({
    iterations: asNumber(analysis['iterations']),
    match: asList(analysis['match']),
  });
  const hasMatch = asList(analysis['match']).length > 0;
  const usesWeights = isSet(analysis['stepWeight']) || isSet(analysis['stepWeights']);
  for (const reference of router.requiredReferences) {
    const value = reference.path.slice(1).reduce<unknown>((node, key) => asFields(node)?.[key], spec);
    if (!isSet(value) || (Array.isArray(value) && value.length === 0)) {
      findings.push(
        error(
          [...reference.path],
          `the ${provider} provider needs ${reference.path.join('.')} naming ${reference.names}`,
        ),
      );
    }
  }
  if (router.dropsMatch && hasMatch) {
    findings.push(
      warning(
        at('match'),
        `the ${provider} provider cannot route by header or cookie: match is dropped and the canary runs as blue/green`,
        true,
      ),
    );
  }
  if (!router.weights && usesWeights && !((asNumber(analysis['iterations']) ?? 0) > 0)) {
    findings.push(
      warning(
        at(),
        `the ${provider} provider only does blue/green: weights are ignored and iterations defaults to ${router.defaultIterations ?? 0}`,
      ),
    );
  }
  if (strategy === 'ab-testing' && !router.dropsMatch && router.headerMatch.length === 0) {
    findings.push(
      error(
        at('match'),
        `the ${provider} router cannot route by header or cookie: A/B testing would send all traffic to the canary`,
        true,
      ),
    );
  }
  if (hasMatch && router.headerMatch.length > 0) findings.push(...checkMatchOperators(analysis, at, router));
  if (analysis['mirror'] === true) {
    const supported = strategy === 'canary' ? router.mirrorInCanary : router.mirrorInBlueGreen;
    if (!supported) {
      findings.push(
        warning(
          at('mirror'),
          `the ${provider} router does not mirror traffic${strategy === 'canary' ? ` in the canary strategy (only ${routersWith((each) => each.mirrorInCanary)} does)` : ''}: mirror is ignored`,
          true,
        ),
      );
    }
  }
  if (isSet(analysis['mirrorWeight']) && !router.weightedMirror) {
    findings.push(
      warning(
        at('mirrorWeight'),
        `mirrorWeight is honoured by ${routersWith((each) => each.weightedMirror)} only`,
        true,
      ),
    );
  }
  return findings;
}

/** Header conditions the router cannot express (the nginx router, for one, has no prefix or suffix). */
function checkMatchOperators(
  analysis: Fields,
  at: (...rest: (string | number)[]) => FieldPath,
  router: ResolvedRouter,
): Finding[] {
  const findings: Finding[] = [];
  const allowed = router.headerMatch.join(' or ');
  for (const [index, match] of asList(analysis['match']).entries()) {
    for (const [header, condition] of Object.entries(asFields(asFields(match)?.['headers']) ?? {})) {
      const operators = Object.keys(asFields(condition) ?? {});
      const unsupported = operators.filter(
        (operator) => !(router.headerMatch as readonly string[]).includes(operator),
      );
      if (unsupported.length > 0) {
        findings.push(
          error(
            at('match', index, 'headers', header),
            `the ${router.given} router matches headers by ${allowed} only, not ${unsupported.join(', ')}`,
          ),
        );
      }
    }
  }
  return findings;
}
