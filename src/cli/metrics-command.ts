/**
 * `vireo metrics query`: renders a MetricTemplate's query (or a built-in check's) for a
 * made-up canary, shows the final query, runs it against the provider and prints the value, or
 * the error and a hint. The hours users lose wiring a metric are mostly an empty answer nobody
 * saw; this shows the exact query and what came back.
 */
import type { Canary } from '../api/schema/canary.js';
import type { MetricTemplate } from '../api/schema/metric-template.js';
import { parseGoDuration } from '../api/duration.js';
import { loadSchemaValidator } from '../api/load-validator.js';
import { renderQuery, type QueryContext } from '../engine/checks.js';
import { PrometheusBuiltinMetrics } from '../metrics/builtin-metrics.js';
import type { BuiltinCheck } from '../metrics/builtin-queries.js';
import { MetricQueryError } from '../metrics/errors.js';
import { createMetricsProvider, settingsOf } from '../metrics/factory.js';
import type { MetricsBackend } from '../metrics/provider.js';
import { DEFAULT_MESH_PROVIDER, resolveRouter } from '../routers/traits.js';
import { UnreadableInputError, UsageError, VireoError } from '../shared/errors.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { manifestsIn } from '../shared/manifests.js';
import { printable, printableLines } from '../shared/printable.js';
import { formatText } from '../validate/format.js';
import { readInputs } from '../validate/inputs.js';
import { exitCodeOf, validateInputs } from '../validate/validate.js';
import type { CliIo } from './main.js';
import { openSecretSource, readNamedSecret } from './secret-source.js';

export const BUILTIN_CHECKS: readonly BuiltinCheck[] = ['request-success-rate', 'request-duration'];

export interface MetricsQueryOptions {
  readonly file?: string | undefined;
  readonly builtin?: string | undefined;
  readonly var?: readonly string[] | undefined;
  readonly namespace?: string | undefined;
  readonly target?: string | undefined;
  readonly name?: string | undefined;
  readonly service?: string | undefined;
  readonly ingress?: string | undefined;
  readonly route?: string | undefined;
  readonly interval?: string | undefined;
  readonly meshProvider?: string | undefined;
  readonly metricsServer?: string | undefined;
  readonly secretFile?: string | undefined;
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
  readonly output?: string | undefined;
}

interface QueryReport {
  readonly subject: string;
  readonly provider: string;
  readonly query: string;
  readonly value?: number;
  readonly tookMs?: number;
  readonly error?: { readonly code: string; readonly message: string };
  readonly hint?: string;
}

export async function runMetricsQuery(options: MetricsQueryOptions, io: CliIo): Promise<number> {
  const json = parseOutput(options.output);
  if ((options.file === undefined) === (options.builtin === undefined)) {
    throw new UsageError(
      'pass either -f FILE (a MetricTemplate) or --builtin CHECK, not both and not neither',
    );
  }
  const interval = parseInterval(options.interval);
  const warnings: string[] = [];
  const logger = noticeCollector(warnings);
  const prepared =
    options.file !== undefined
      ? await prepareTemplate(options.file, options, interval, io, logger)
      : prepareBuiltin(options, interval, logger);

  if (!json) {
    io.stdout(`${printable(prepared.subject)} (${printable(prepared.provider)})\n`);
    io.stdout(`query: ${printableLines(prepared.query)}\n`);
  }
  const started = performance.now();
  let report: QueryReport;
  try {
    const value = await prepared.run();
    report = { ...prepared, value, tookMs: Math.round(performance.now() - started) };
  } catch (cause) {
    if (!(cause instanceof VireoError)) throw cause;
    report = { ...prepared, error: { code: cause.code, message: cause.message }, hint: hintFor(cause) };
  }
  if (json) {
    const { subject, provider, query, value, tookMs, error, hint } = report;
    io.stdout(
      `${JSON.stringify({ subject, provider, query, value, tookMs, error, hint, ...(warnings.length > 0 ? { warnings } : {}) })}\n`,
    );
    return report.error === undefined ? 0 : 1;
  }
  // Backends' answers are quoted in messages: their control characters must not reach the terminal.
  for (const warning of warnings) io.stderr(`warning: ${printable(warning)}\n`);
  if (report.error === undefined) {
    io.stdout(`value: ${String(report.value)} (in ${report.tookMs ?? 0} ms)\n`);
  } else {
    io.stderr(`error: ${printable(report.error.message)} [${report.error.code}]\n`);
    if (report.hint !== undefined) io.stderr(`hint: ${report.hint}\n`);
  }
  return report.error === undefined ? 0 : 1;
}

interface PreparedQuery {
  readonly subject: string;
  readonly provider: string;
  readonly query: string;
  readonly run: () => Promise<number>;
}

/** A logger whose warnings become lines of the command's output instead of JSON logs. */
function noticeCollector(warnings: string[]): Logger {
  return createLogger({
    level: 'warn',
    destination: {
      write: (line: string) => {
        const { msg } = JSON.parse(line) as { msg?: unknown };
        if (typeof msg === 'string') warnings.push(msg);
      },
    },
  });
}

async function prepareTemplate(
  file: string,
  options: MetricsQueryOptions,
  interval: string,
  io: CliIo,
  logger: Logger,
): Promise<PreparedQuery> {
  const template = await readTemplate(file, io);
  const namespace = options.namespace ?? template.metadata.namespace ?? 'default';
  const subject = `MetricTemplate ${template.metadata.namespace ?? 'default'}/${template.metadata.name}`;
  const query = renderForCli(template.spec.query, contextFrom(options, namespace, interval)).trim();
  const { provider } = template.spec;
  const secretName = provider.secretRef?.name;
  const source = await openSecretSource(options, (line) => io.stderr(`vireo metrics query: ${line}\n`));
  const secret =
    secretName === undefined
      ? undefined
      : await readNamedSecret(source, template.metadata.namespace ?? 'default', secretName, subject);
  const backend: MetricsBackend = await createMetricsProvider(
    provider.type,
    settingsOf(template, interval, secret),
    source.kubeConfig === undefined ? { logger } : { kubeConfig: source.kubeConfig, logger },
  );
  return {
    subject,
    provider: provider.address === undefined ? provider.type : `${provider.type} at ${provider.address}`,
    query,
    run: () => backend.queryValue(query),
  };
}

function prepareBuiltin(options: MetricsQueryOptions, interval: string, logger: Logger): PreparedQuery {
  const check = options.builtin as BuiltinCheck;
  if (!BUILTIN_CHECKS.includes(check)) {
    throw new UsageError(
      `--builtin ${JSON.stringify(options.builtin)}: use one of ${BUILTIN_CHECKS.join(', ')}`,
    );
  }
  if (options.target === undefined) {
    throw new UsageError('--builtin needs --target NAME: the Deployment (or Service) the canary targets');
  }
  const meshProvider = options.meshProvider ?? DEFAULT_MESH_PROVIDER;
  resolveRouter(meshProvider, { flag: '--mesh-provider', command: 'vireo metrics query' });
  const canary = madeUpCanary(options, options.target);
  const builtin = new PrometheusBuiltinMetrics({
    meshProvider,
    deps: { logger },
    ...(options.metricsServer === undefined ? {} : { metricsServer: options.metricsServer }),
  });
  const { server, query } = builtin.queryFor(canary, check, interval);
  return {
    subject: `built-in ${check} for ${meshProvider}`,
    provider: `prometheus at ${server}`,
    query,
    run: () =>
      check === 'request-success-rate'
        ? builtin.requestSuccessRate(canary, interval)
        : builtin.requestDurationMs(canary, interval),
  };
}

function madeUpCanary(options: MetricsQueryOptions, target: string): Canary {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: options.name ?? target, namespace: options.namespace ?? 'default' },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: target },
      service: { port: 80, ...(options.service === undefined ? {} : { name: options.service }) },
      ...(options.ingress === undefined
        ? {}
        : { ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: options.ingress } }),
      ...(options.route === undefined
        ? {}
        : {
            routeRef: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', name: options.route },
          }),
      analysis: { interval: '1m', threshold: 5 },
    },
  };
}

/** Template functions from the flags; a function the query uses without its flag is left unset. */
function contextFrom(
  options: MetricsQueryOptions,
  namespace: string,
  interval: string,
): Partial<QueryContext> {
  const target = options.target;
  const fallback = (value: string | undefined): string | undefined => value ?? target;
  return {
    namespace,
    interval,
    variables: parseVariables(options.var ?? []),
    ...defined('target', target),
    ...defined('name', fallback(options.name)),
    ...defined('service', fallback(options.service)),
    ...defined('ingress', fallback(options.ingress)),
    ...defined('route', fallback(options.route)),
  };
}

const defined = (key: string, value: string | undefined): Record<string, string> =>
  value === undefined ? {} : { [key]: value };

const FLAG_OF: Readonly<Record<string, string>> = {
  target: '--target',
  name: '--name (or --target)',
  service: '--service (or --target)',
  ingress: '--ingress (or --target)',
  route: '--route (or --target)',
};

/** Renders like the engine; a function without a value names the flag that gives it. */
function renderForCli(query: string, context: Partial<QueryContext>): string {
  for (const match of query.matchAll(/\{\{-?\s*\.?([A-Za-z_][\w.]*)\s*-?\}\}/g)) {
    const field = match[1] ?? '';
    const flag = FLAG_OF[field];
    if (flag !== undefined && context[field as keyof QueryContext] === undefined) {
      throw new UsageError(`the query uses {{ ${field} }}: pass ${flag}`);
    }
  }
  const complete: QueryContext = {
    name: '',
    namespace: 'default',
    target: '',
    service: '',
    ingress: '',
    route: '',
    interval: '1m',
    variables: {},
    ...context,
  };
  try {
    return renderQuery(query, complete);
  } catch (cause) {
    if (cause instanceof VireoError && cause.code === 'E_TEMPLATE_VARIABLE') {
      throw new UsageError(
        `${cause.message.replace(': add it to templateVariables', '')}: pass --var KEY=VALUE`,
      );
    }
    throw cause;
  }
}

function parseVariables(pairs: readonly string[]): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const pair of pairs) {
    const separator = pair.indexOf('=');
    if (separator <= 0) throw new UsageError(`--var ${JSON.stringify(pair)}: write KEY=VALUE`);
    variables[pair.slice(0, separator)] = pair.slice(separator + 1);
  }
  return variables;
}

function parseInterval(text: string | undefined): string {
  if (text === undefined) return '1m';
  const milliseconds = parseGoDuration(text);
  if (milliseconds === undefined || milliseconds <= 0) {
    throw new UsageError(`--interval ${JSON.stringify(text)}: use a positive duration such as 30s, 1m or 5m`);
  }
  return text;
}

function parseOutput(text: string | undefined): boolean {
  if (text === undefined || text === 'text') return false;
  if (text === 'json') return true;
  throw new UsageError(`--output ${JSON.stringify(text)}: use text or json`);
}

async function readTemplate(file: string, io: CliIo): Promise<MetricTemplate> {
  const inputs = await readInputs([file], io.readStdin);
  const unreadable = inputs.unreadable[0];
  if (unreadable !== undefined)
    throw new UnreadableInputError(`${unreadable.file}: cannot read: ${unreadable.reason}`);
  const report = validateInputs(inputs, { validator: await loadSchemaValidator() });
  if (exitCodeOf(report) !== 0) {
    throw new UsageError(`${file} is not a valid MetricTemplate:\n${formatText(report).trimEnd()}`);
  }
  const templates = inputs.texts
    .flatMap((input) => manifestsIn(input.text))
    .filter((object) => object['kind'] === 'MetricTemplate');
  if (templates.length !== 1) {
    throw new UsageError(
      `${file} holds ${templates.length} MetricTemplates: put the one to query in a file of its own`,
    );
  }
  return templates[0] as unknown as MetricTemplate;
}

function hintFor(error: VireoError): string | undefined {
  switch (error.code) {
    case 'E_NO_VALUES':
      return 'the query matched no data in the window: run it without label filters to see which series exist, check the label values (namespace, workload or pod names) and that the canary receives traffic during the interval';
    case 'E_MULTIPLE_VALUES':
      return 'a check needs one number: aggregate the series, e.g. sum(...) or max(...)';
    case 'E_METRIC_QUERY': {
      const status = error instanceof MetricQueryError ? error.status : undefined;
      if (status === 401 || status === 403)
        return 'the backend refused the credentials: check the keys of the Secret';
      if (status !== undefined && status >= 400 && status < 500)
        return 'the backend refused the query: fix it as the message says';
      if (status === undefined)
        return 'check that spec.provider.address is right and reachable from this machine';
      return undefined;
    }
    case 'E_SECRET_NOT_FOUND':
    case 'E_SECRET_ACCESS':
      return 'pass the Secret with --secret-file FILE, or use a kubeconfig context that may read it';
    default:
      return undefined;
  }
}
