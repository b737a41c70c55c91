/**
 * Canary checks beyond the schema: the analysis shape, weights, durations, webhooks, metrics and
 * what each router provider can and cannot do (docs/flagger-compatibility.md#1-resources to docs/flagger-compatibility.md#5-webhooks).
 */
import { isPrometheusDuration, parseGoDuration, formatDuration } from '../../api/duration.js';
import { LOCAL_WORKLOAD_API_VERSION } from '../../api/schema/workload.js';
import {
  deploymentStrategy,
  effectiveMaxWeight,
  mirrorsInBlueGreen,
  mirrorsInCanaryStrategy,
} from '../../engine/progression.js';
import { error, warning, type Finding } from '../finding.js';
import type { FieldPath } from '../path.js';
import { closestMatch } from '../suggest.js';
import { checkMatchRegexes } from './match-regex.js';
import { asFields, asList, asNumber, asText, isSet, type Fields } from './read.js';

export const BUILTIN_METRICS = ['request-success-rate', 'request-duration'] as const;
const MIN_INTERVAL_MS = 10_000;
export { LOCAL_WORKLOAD_API_VERSION };

export interface CanaryCheckOptions {
  /** The controller's --mesh-provider, used when spec.provider is unset. */
  meshProvider?: string | undefined;
}

export function checkCanary(canary: Fields, options: CanaryCheckOptions = {}): Finding[] {
  const spec = asFields(canary['spec']);
  if (spec === undefined) return [];
  const findings: Finding[] = [];
  const provider = asText(spec['provider']) ?? options.meshProvider;
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
  findings.push(...checkService(spec, provider));
  findings.push(...checkTarget(spec, provider));
  if (analysis !== undefined) {
    findings.push(...checkAnalysisShape(analysis, at));
    findings.push(...checkWeights(analysis, at));
    findings.push(...checkIntervals(analysis, at));
    findings.push(...checkMetrics(analysis, at));
    findings.push(...checkWebhooks(analysis, at));
    findings.push(...checkSessionAffinity(analysis, at, provider));
    findings.push(...checkMatchRegexes(analysis, at));
    if (provider !== undefined) findings.push(...checkProvider(spec, analysis, at, provider));
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
  provider: string | undefined,
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
  if (provider !== undefined && provider !== 'istio' && !provider.startsWith('gatewayapi')) {
    findings.push(
      warning(
        at('sessionAffinity'),
        `session affinity is implemented by the istio and gatewayapi routers only; ${provider} ignores it`,
        true,
      ),
    );
  } else if (primaryCookie !== undefined && provider === 'gatewayapi:v1beta1') {
    findings.push(
      warning(
        at('sessionAffinity', 'primaryCookieName'),
        'primaryCookieName needs istio or gatewayapi:v1',
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

function checkService(spec: Fields, provider: string | undefined): Finding[] {
  const findings: Finding[] = [];
  const service = asFields(spec['service']);
  if (service === undefined) {
    if (provider !== 'knative' && !isSet(spec['service'])) {
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

function checkTarget(spec: Fields, provider: string | undefined): Finding[] {
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
  if (provider === 'knative' && !knativeTarget) {
    findings.push(
      error(
        ['spec', 'targetRef'],
        'the knative provider needs a Knative Service target (apiVersion serving.knative.dev/v1, kind Service)',
        true,
      ),
    );
  }
  if (knativeTarget && provider !== undefined && provider !== 'knative') {
    findings.push(
      error(['spec', 'provider'], `a Knative Service target needs provider knative, not ${provider}`),
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

/** docs/flagger-compatibility.md#32-routers: what each router can express. */
function checkProvider(
  spec: Fields,
  analysis: Fields,
  at: (...rest: (string | number)[]) => FieldPath,
  provider: string,
): Finding[] {
  const findings: Finding[] = [];
  const strategy = deploymentStrategy({
    iterations: asNumber(analysis['iterations']),
    match: asList(analysis['match']),
  });
  const hasMatch = asList(analysis['match']).length > 0;
  const usesWeights = isSet(analysis['stepWeight']) || isSet(analysis['stepWeights']);
  const service = asFields(spec['service']);
  const requireRef = (field: string, kind: string) => {
    if (!isSet(spec[field]))
      findings.push(
        error(
          ['spec', field],
          `the ${provider} provider needs spec.${field} naming the ${kind} to route through`,
        ),
      );
  };
  switch (provider) {
    case 'kubernetes':
      if (hasMatch)
        findings.push(
          warning(
            at('match'),
            'the kubernetes provider cannot route by header or cookie: match is dropped and the canary runs as blue/green',
            true,
          ),
        );
      if (usesWeights && !((asNumber(analysis['iterations']) ?? 0) > 0)) {
        findings.push(
          warning(
            at(),
            'the kubernetes provider only does blue/green: weights are ignored and iterations defaults to 10',
          ),
        );
      }
      break;
    case 'nginx':
      requireRef('ingressRef', 'Ingress');
      for (const [index, match] of asList(analysis['match']).entries()) {
        for (const [header, condition] of Object.entries(asFields(asFields(match)?.['headers']) ?? {})) {
          const operators = Object.keys(asFields(condition) ?? {});
          if (operators.some((operator) => operator === 'prefix' || operator === 'suffix')) {
            findings.push(
              error(
                at('match', index, 'headers', header),
                'NGINX matches headers by exact value or regex only',
              ),
            );
          }
        }
      }
      break;
    case 'skipper':
      requireRef('ingressRef', 'Ingress');
      break;
    case 'apisix':
      requireRef('routeRef', 'ApisixRoute');
      break;
    case 'gatewayapi:v1':
    case 'gatewayapi:v1beta1':
      if (asList(service?.['gatewayRefs']).length === 0) {
        findings.push(
          error(
            ['spec', 'service', 'gatewayRefs'],
            'the Gateway API provider needs service.gatewayRefs: the HTTPRoute must attach to a Gateway (or to the Service for mesh routing)',
          ),
        );
      }
      break;
    default:
      break;
  }
  if (strategy === 'ab-testing' && ['traefik', 'skipper', 'kuma', 'osm', 'linkerd'].includes(provider)) {
    findings.push(
      error(
        at('match'),
        `the ${provider} router cannot route by header or cookie: A/B testing would send all traffic to the canary`,
        true,
      ),
    );
  }
  if (analysis['mirror'] === true) {
    const supported =
      strategy === 'canary' ? mirrorsInCanaryStrategy(provider) : mirrorsInBlueGreen(provider);
    if (!supported) {
      findings.push(
        warning(
          at('mirror'),
          `the ${provider} router does not mirror traffic${strategy === 'canary' ? ' in the canary strategy (only istio does)' : ''}: mirror is ignored`,
          true,
        ),
      );
    }
  }
  if (isSet(analysis['mirrorWeight']) && provider !== 'istio') {
    findings.push(warning(at('mirrorWeight'), 'mirrorWeight is honoured by istio only', true));
  }
  return findings;
}
