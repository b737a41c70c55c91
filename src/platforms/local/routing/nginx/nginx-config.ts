/**
 * Local mode's real-nginx router, part 1: the nginx.conf for a set of LocalRoutes. A pure
 * function of its input, so every shape can be unit-tested and checked with `nginx -t`.
 *
 * Per route the config has one `server` and a chain of lazily evaluated variables that decide
 * each request's arm, in this order (the first that applies wins):
 *   1. session affinity: the canary cookie → canary, the primary cookie → primary;
 *   2. A/B: any `match` entry whose conditions all hold → canary;
 *   3. the weight: `split_clients` on `$request_id`, i.e. an independent draw per request.
 * The arm picks the upstream (`<ns>_<svc>_primary|_canary`), the `x-vireo-backend` response
 * header, the session cookies and the access-log fields. Mirroring is nginx's `mirror` directive
 * to an internal location whose subrequest goes to the canary when the request went to the primary.
 *
 * Everything a user wrote (header names, regexes, cookie names and values, paths) is validated
 * and written only inside double-quoted strings with `\` and `"` escaped, never as a bare token:
 * nginx's parser ends a quoted string only at an unescaped quote, so `;`, `{` or `}` inside one
 * cannot start a directive. What nginx would interpret inside a string anyway (`$` in values it
 * interpolates, control characters) is rejected with an InvalidRouteError naming the field.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { isAbsolute } from 'node:path';
import type { AnalysisMatch } from '../../../../api/schema/canary.js';
import { VireoError } from '../../../../shared/errors.js';
import type { LocalRoute, SessionAffinityRule } from '../route.js';

/** A route the nginx router cannot express; `field` names the offending input. */
export class InvalidRouteError extends VireoError {
  readonly field: string;

  constructor(field: string, message: string) {
    super('E_INVALID_ROUTE', `${field}: ${message}`);
    this.field = field;
  }
}

export interface NginxConfigOptions {
  /** Absolute directory for the pid file, logs and temp files (nginx's `-p` prefix). */
  readonly prefix: string;
  /** Default 1: one worker is plenty for local traffic and keeps reloads quick. */
  readonly workerProcesses?: number | 'auto';
  /** Connections per worker (clients and upstreams together); default 1024. */
  readonly workerConnections?: number;
  /** `json` (default) writes one JSON object per request to `<prefix>/logs/access.log`; `off` writes none. */
  readonly accessLogFormat?: 'json' | 'off';
  /**
   * nginx's `user` directive. Only meaningful when nginx starts as root, where nginx would
   * otherwise run its workers as `nobody`, who cannot reach a private prefix directory.
   */
  readonly user?: string;
  /** Written into the `x-vireo-config` response header and the admin endpoint; default 1. */
  readonly generation?: number;
  /** A loopback-only admin server: `/vireo/generation`, and `/nginx_status` when `stubStatus`. */
  readonly admin?: { readonly port: number; readonly stubStatus?: boolean };
  /**
   * nginx's `keepalive_min_timeout` (newer nginx only; the runner probes for it). During a
   * reload, old workers then still answer requests already sent on idle keep-alive connections
   * (with `Connection: close`) instead of closing those connections under them.
   */
  readonly keepaliveMinTimeoutSeconds?: number;
}

/** File layout under the prefix; the runner and the docs use the same names. */
export function nginxPaths(prefix: string) {
  return {
    config: `${prefix}/nginx.conf`,
    pid: `${prefix}/nginx.pid`,
    errorLog: `${prefix}/logs/error.log`,
    accessLog: `${prefix}/logs/access.log`,
    logs: `${prefix}/logs`,
    temp: `${prefix}/temp`,
  } as const;
}

/** Response header naming the arm that answered, as the built-in proxy's. */
export const BACKEND_HEADER = 'x-vireo-backend';
/** Response header carrying the config generation that answered. */
export const CONFIG_HEADER = 'x-vireo-config';
/** Admin endpoint answering the live generation, one number and a newline. */
export const GENERATION_PATH = '/vireo/generation';
export const STUB_STATUS_PATH = '/nginx_status';
/**
 * The internal location mirror subrequests go through. `internal` makes nginx answer 404 to a
 * client asking for it, so this one path is taken from the services; the name makes a clash unlikely.
 */
export const MIRROR_PATH_PREFIX = '/__vireo_mirror/';
/** Idle upstream connections kept per worker and arm. */
export const UPSTREAM_KEEPALIVE = 32;
/**
 * Below Node's default server keep-alive timeout (5 s), so nginx drops an idle upstream
 * connection before the service does and never reuses one the service is closing.
 */
export const UPSTREAM_KEEPALIVE_TIMEOUT_SECONDS = 4;

export function renderNginxConfig(routes: readonly LocalRoute[], options: NginxConfigOptions): string {
  const prefix = checkPrefix(options.prefix);
  const paths = nginxPaths(prefix);
  const generation = options.generation ?? 1;
  if (!Number.isSafeInteger(generation) || generation < 0)
    throw new InvalidRouteError('generation', 'must be a non-negative integer');
  const plans = planRoutes(routes);
  const logFormat = options.accessLogFormat ?? 'json';

  const lines: string[] = [
    '# Written by Vireo (local mode, nginx router). Rewritten on every change: do not edit.',
    `# generation ${generation}`,
    `worker_processes ${workerProcesses(options.workerProcesses)};`,
    ...(options.user === undefined ? [] : [`user ${quote(checkUser(options.user))};`]),
    `pid ${quote(paths.pid)};`,
    `error_log ${quote(paths.errorLog)} notice;`,
    '',
    'events {',
    `  worker_connections ${positiveInteger(options.workerConnections ?? 1024, 'workerConnections')};`,
    '}',
    '',
    'http {',
    ...indent(httpSettings(paths)),
    ...(options.keepaliveMinTimeoutSeconds === undefined
      ? []
      : [
          `  keepalive_min_timeout ${positiveInteger(options.keepaliveMinTimeoutSeconds, 'keepaliveMinTimeoutSeconds')}s;`,
        ]),
    ...plans.flatMap((plan) => ['', ...indent(renderRoute(plan, { paths, generation, logFormat }))]),
    ...(options.admin === undefined ? [] : ['', ...indent(renderAdmin(options.admin, generation))]),
    '}',
    '',
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// What each route needs, decided before anything is written.

type Arm = 'primary' | 'canary';

/** One A/B condition: a variable and the PCRE its value must match. */
interface Condition {
  readonly source: string;
  readonly pattern: string;
}

interface RoutePlan {
  readonly route: LocalRoute;
  /** `<ns>_<svc>`, made unique: prefix of the route's upstreams and variables. */
  readonly id: string;
  readonly listen: string;
  readonly primary: readonly string[];
  readonly canary: readonly string[];
  /** Both arms empty: the server answers 503. */
  readonly empty: boolean;
  /** Only one arm has replicas: every request goes there. */
  readonly onlyArm?: Arm;
  /** 0–100 with two decimals (split_clients' precision). */
  readonly weight: number;
  /** One list of conditions per match entry (all must hold). */
  readonly matches: readonly (readonly Condition[])[];
  /** Percent of primary-answered requests copied to the canary; 0 means no mirror. */
  readonly mirrorPercent: number;
  readonly affinity?: CheckedAffinity;
}

interface CheckedAffinity {
  readonly canaryCookie?: string;
  readonly primaryCookie?: string;
  readonly previousCookie?: string;
  readonly canarySetCookie?: string;
  readonly primarySetCookie?: string;
  readonly expireCookie?: string;
}

function planRoutes(routes: readonly LocalRoute[]): RoutePlan[] {
  const ids = new Set<string>();
  const services = new Set<string>();
  const listens = new Set<string>();
  return routes.map((route, index) => {
    const field = `routes[${index}]`;
    const namespace = checkName(route.namespace, `${field}.namespace`);
    const service = checkName(route.service, `${field}.service`);
    if (services.has(`${namespace}/${service}`))
      throw new InvalidRouteError(
        `${field}`,
        `a second route for ${namespace}/${service}: one route per service`,
      );
    services.add(`${namespace}/${service}`);
    const listen = checkListen(route.listen, `${field}.listen`);
    if (listens.has(listen))
      throw new InvalidRouteError(`${field}.listen`, `${listen} is already used by another route`);
    listens.add(listen);
    const id = uniqueId(`${namespace}_${service}`.replace(/[^A-Za-z0-9_]/g, '_'), ids);
    return planRoute(route, field, id, listen);
  });
}

function planRoute(route: LocalRoute, field: string, id: string, listen: string): RoutePlan {
  const primary = route.primary.map((url, i) => checkReplica(url, `${field}.primary[${i}]`));
  const canary = route.canary.map((url, i) => checkReplica(url, `${field}.canary[${i}]`));
  const weight = percent(route.canaryWeight, `${field}.canaryWeight`);
  const mirrorWeight = percent(route.mirrorWeight ?? 100, `${field}.mirrorWeight`);
  const matches = route.match.map((entry, i) => checkMatch(entry, `${field}.match[${i}]`));
  const affinity =
    route.sessionAffinity === undefined
      ? undefined
      : checkAffinity(route.sessionAffinity, `${field}.sessionAffinity`);
  const onlyArm: Arm | undefined =
    primary.length > 0 && canary.length === 0
      ? 'primary'
      : primary.length === 0 && canary.length > 0
        ? 'canary'
        : undefined;
  return {
    route,
    id,
    listen,
    primary,
    canary,
    empty: primary.length === 0 && canary.length === 0,
    ...(onlyArm === undefined ? {} : { onlyArm }),
    weight,
    matches,
    // Mirroring copies primary traffic to a canary: it needs both arms.
    mirrorPercent: route.mirror && onlyArm === undefined && primary.length > 0 ? mirrorWeight : 0,
    ...(affinity === undefined ? {} : { affinity }),
  };
}

function uniqueId(base: string, taken: Set<string>): string {
  let id = base;
  for (let n = 2; taken.has(id); n += 1) id = `${base}_${n}`;
  taken.add(id);
  return id;
}

// ---------------------------------------------------------------------------------------------
// Rendering.

interface RenderContext {
  readonly paths: ReturnType<typeof nginxPaths>;
  readonly generation: number;
  readonly logFormat: 'json' | 'off';
}

function httpSettings(paths: ReturnType<typeof nginxPaths>): string[] {
  return [
    'server_tokens off;',
    'default_type text/plain;',
    'access_log off;',
    `client_body_temp_path ${quote(`${paths.temp}/client_body`)};`,
    `proxy_temp_path ${quote(`${paths.temp}/proxy`)};`,
    `fastcgi_temp_path ${quote(`${paths.temp}/fastcgi`)};`,
    `uwsgi_temp_path ${quote(`${paths.temp}/uwsgi`)};`,
    `scgi_temp_path ${quote(`${paths.temp}/scgi`)};`,
    '# A router passes bodies of any size through, as the built-in proxy does.',
    'client_max_body_size 0;',
    '# Room for the per-route variables and map keys of many routes.',
    'variables_hash_max_size 4096;',
    'variables_hash_bucket_size 128;',
    'map_hash_bucket_size 128;',
    'proxy_connect_timeout 5s;',
  ];
}

/** The proxy headers of every location that talks to a service (they must be repeated together). */
function proxyHeaders(): string[] {
  return [
    '# HTTP/1.1 with an empty Connection header keeps upstream connections alive.',
    'proxy_http_version 1.1;',
    'proxy_set_header Connection "";',
    'proxy_set_header Host $http_host;',
    'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    'proxy_set_header X-Forwarded-Proto $scheme;',
    'proxy_set_header X-Forwarded-Host $host;',
    `proxy_hide_header ${BACKEND_HEADER};`,
    `proxy_hide_header ${CONFIG_HEADER};`,
  ];
}

function renderRoute(plan: RoutePlan, context: RenderContext): string[] {
  const { route, id } = plan;
  const label = `${route.namespace}/${route.service}`;
  const lines = [`# ---- ${label}: ${describePlan(plan)}`];
  if (context.logFormat === 'json') lines.push(...logFormat(plan, label, context.generation));
  if (plan.empty) return [...lines, ...emptyServer(plan, context)];

  if (plan.primary.length > 0) lines.push(...upstream(`${id}_primary`, plan.primary));
  if (plan.canary.length > 0) lines.push(...upstream(`${id}_canary`, plan.canary));
  lines.push(...decisionVariables(plan));
  lines.push(...cookieVariables(plan));
  lines.push(...mirrorVariables(plan));

  const v = (name: string): string => `$vireo_${id}_${name}`;
  const location = [
    ...proxyHeaders(),
    ...(plan.mirrorPercent > 0 ? [`mirror ${MIRROR_PATH_PREFIX}${id};`, 'mirror_request_body on;'] : []),
    `proxy_pass http://${v('upstream')};`,
    `add_header ${BACKEND_HEADER} ${v('arm')} always;`,
    `add_header ${CONFIG_HEADER} ${context.generation} always;`,
    ...(plan.affinity?.expireCookie === undefined
      ? []
      : [`add_header Set-Cookie ${v('expire_cookie')} always;`]),
    ...(hasSetCookie(plan) ? [`add_header Set-Cookie ${v('set_cookie')} always;`] : []),
  ];
  const server = [
    'server {',
    `  listen ${plan.listen};`,
    '  server_name _;',
    ...(context.logFormat === 'json' ? [`  access_log ${quote(context.paths.accessLog)} vireo_${id};`] : []),
    '  location / {',
    ...indent(location, 4),
    '  }',
    ...(plan.mirrorPercent > 0 ? indent(mirrorLocation(plan)) : []),
    '}',
  ];
  return [...lines, ...server];
}

function describePlan(plan: RoutePlan): string {
  if (plan.empty) return 'no replicas, answers 503';
  if (plan.onlyArm !== undefined) return `only the ${plan.onlyArm} has replicas`;
  const parts = [`canary weight ${plan.weight}%`];
  if (plan.matches.length > 0) parts.push(`${plan.matches.length} A/B match entries`);
  if (plan.mirrorPercent > 0) parts.push(`mirror ${plan.mirrorPercent}%`);
  if (plan.affinity !== undefined) parts.push('session affinity');
  return parts.join(', ');
}

function upstream(name: string, servers: readonly string[]): string[] {
  return [
    `upstream ${name} {`,
    ...servers.map((server) => `  server ${server};`),
    `  keepalive ${UPSTREAM_KEEPALIVE};`,
    `  keepalive_timeout ${UPSTREAM_KEEPALIVE_TIMEOUT_SECONDS}s;`,
    '}',
  ];
}

/**
 * `$vireo_<id>_decision` is `<arm>-<reason>` (reason: sticky, match or weight), `$…_arm` the arm
 * and `$…_upstream` its upstream. nginx evaluates them once per request, when first used.
 */
function decisionVariables(plan: RoutePlan): string[] {
  const v = (name: string): string => `$vireo_${plan.id}_${name}`;
  const arm = v('arm');
  if (plan.onlyArm !== undefined) {
    return [
      ...constant(v('decision'), `${plan.onlyArm}-weight`),
      ...constant(arm, plan.onlyArm),
      ...constant(v('upstream'), `${plan.id}_${plan.onlyArm}`),
    ];
  }
  const lines: string[] = [];
  const parts: string[] = [];
  const rules: string[] = [];

  const sticky = stickyCookies(plan);
  if (sticky.length > 0) {
    lines.push(...map('$http_cookie', v('sticky'), '""', sticky));
    parts.push(v('sticky'));
  }
  if (plan.matches.length > 0) {
    lines.push(...abVariables(plan));
    parts.push(v('ab'));
  }
  lines.push(...weightedVariable(plan));
  parts.push(v('weighted'));

  // The source is "<sticky>:<ab>:<weighted>" with the absent parts left out.
  const position = (name: string): number => parts.indexOf(v(name));
  const field = (index: number, value: string): string =>
    `~^${'[a-z0-9]*:'.repeat(index)}${value}${index === parts.length - 1 ? '$' : ':'}`;
  if (position('sticky') >= 0) {
    rules.push(`${quote(field(position('sticky'), 'canary'))} canary-sticky;`);
    rules.push(`${quote(field(position('sticky'), 'primary'))} primary-sticky;`);
  }
  if (position('ab') >= 0) rules.push(`${quote(field(position('ab'), '1'))} canary-match;`);
  rules.push(`${quote(field(position('weighted'), 'canary'))} canary-weight;`);
  lines.push(
    ...map(quote(parts.map((p) => `\${${p.slice(1)}}`).join(':')), v('decision'), 'primary-weight', rules),
  );
  lines.push(...map(v('decision'), arm, 'primary', ['"~^canary-" canary;']));
  lines.push(...map(arm, v('upstream'), `${plan.id}_primary`, [`canary ${plan.id}_canary;`]));
  return lines;
}

function weightedVariable(plan: RoutePlan): string[] {
  const target = `$vireo_${plan.id}_weighted`;
  // split_clients rejects 0% and a 100% bucket leaves `*` empty: both ends are constants.
  if (plan.weight === 0) return constant(target, 'primary');
  if (plan.weight === 100) return constant(target, 'canary');
  return [`split_clients "\${request_id}" ${target} {`, `  ${plan.weight}% canary;`, '  * primary;', '}'];
}

/** Map rules on the Cookie header for the sticky cookies, canary first (Flagger's rule order). */
function stickyCookies(plan: RoutePlan): string[] {
  const affinity = plan.affinity;
  if (affinity === undefined) return [];
  const rules: string[] = [];
  if (affinity.canaryCookie !== undefined)
    rules.push(`${quote(`~${cookiePattern(affinity.canaryCookie)}`)} canary;`);
  if (affinity.primaryCookie !== undefined)
    rules.push(`${quote(`~${cookiePattern(affinity.primaryCookie)}`)} primary;`);
  return rules;
}

/** One map per condition (1 when it holds), one per entry (all hold), one for "any entry". */
function abVariables(plan: RoutePlan): string[] {
  const lines: string[] = [];
  const entries: string[] = [];
  plan.matches.forEach((conditions, entryIndex) => {
    const names = conditions.map((condition, conditionIndex) => {
      const name = `$vireo_${plan.id}_m${entryIndex}_c${conditionIndex}`;
      lines.push(...map(condition.source, name, '0', [`${quote(`~${condition.pattern}`)} 1;`]));
      return name;
    });
    const entry = `$vireo_${plan.id}_m${entryIndex}`;
    lines.push(
      ...map(quote(names.map(braced).join('')), entry, '0', [`${quote('1'.repeat(names.length))} 1;`]),
    );
    entries.push(entry);
  });
  lines.push(...map(quote(entries.map(braced).join('')), `$vireo_${plan.id}_ab`, '0', ['"~1" 1;']));
  return lines;
}

function cookieVariables(plan: RoutePlan): string[] {
  const affinity = plan.affinity;
  if (affinity === undefined) return [];
  const lines: string[] = [];
  if (affinity.expireCookie !== undefined && affinity.previousCookie !== undefined) {
    lines.push(
      ...map('$http_cookie', `$vireo_${plan.id}_expire_cookie`, '""', [
        `${quote(`~${cookiePattern(affinity.previousCookie)}`)} ${quote(affinity.expireCookie)};`,
      ]),
    );
  }
  if (hasSetCookie(plan)) {
    const rules: string[] = [];
    if (affinity.canarySetCookie !== undefined)
      rules.push(`canary-weight ${quote(affinity.canarySetCookie)};`);
    if (affinity.primarySetCookie !== undefined)
      rules.push(`primary-weight ${quote(affinity.primarySetCookie)};`);
    lines.push(...map(`$vireo_${plan.id}_decision`, `$vireo_${plan.id}_set_cookie`, '""', rules));
  }
  return lines;
}

/** Cookies are set only where both arms exist (a weighted choice was made). */
function hasSetCookie(plan: RoutePlan): boolean {
  const affinity = plan.affinity;
  return (
    plan.onlyArm === undefined &&
    affinity !== undefined &&
    (affinity.canarySetCookie !== undefined || affinity.primarySetCookie !== undefined)
  );
}

/** `$…_mirror` is 1 for a request the primary answers and the mirror draw picks. */
function mirrorVariables(plan: RoutePlan): string[] {
  if (plan.mirrorPercent === 0) return [];
  const v = (name: string): string => `$vireo_${plan.id}_${name}`;
  if (plan.mirrorPercent === 100) return map(v('arm'), v('mirror'), '0', ['primary 1;']);
  return [
    // A key of its own, so the mirror draw is independent of the weight draw.
    `split_clients "mirror\${request_id}" ${v('mirror_draw')} {`,
    `  ${plan.mirrorPercent}% 1;`,
    '  * 0;',
    '}',
    ...map(quote(`${braced(v('arm'))}:${braced(v('mirror_draw'))}`), v('mirror'), '0', ['"primary:1" 1;']),
  ];
}

function mirrorLocation(plan: RoutePlan): string[] {
  return [
    `location = ${MIRROR_PATH_PREFIX}${plan.id} {`,
    '  internal;',
    // `return` is one of the directives that are safe inside `if` in a location.
    `  if ($vireo_${plan.id}_mirror = 0) {`,
    '    return 204;',
    '  }',
    ...indent(proxyHeaders()),
    // $request_uri is the client's original URI (the subrequest's own URI is this location's).
    `  proxy_pass http://${plan.id}_canary$request_uri;`,
    '}',
  ];
}

function emptyServer(plan: RoutePlan, context: RenderContext): string[] {
  return [
    'server {',
    `  listen ${plan.listen};`,
    '  server_name _;',
    ...(context.logFormat === 'json'
      ? [`  access_log ${quote(context.paths.accessLog)} vireo_${plan.id};`]
      : []),
    '  location / {',
    `    add_header ${CONFIG_HEADER} ${context.generation} always;`,
    // The names are validated (no quotes or backslashes); `\n` is nginx's newline escape.
    `    return 503 "no replicas of ${plan.route.namespace}/${plan.route.service} are running\\n";`,
    '  }',
    '}',
  ];
}

/**
 * One JSON object per request; `escape=json` escapes every variable's value. The literal parts
 * are ours and validated names, so the line is always valid JSON.
 */
function logFormat(plan: RoutePlan, label: string, generation: number): string[] {
  const v = (name: string): string => `$vireo_${plan.id}_${name}`;
  const arm = plan.empty ? 'none' : v('arm');
  const decision = plan.empty ? 'none' : v('decision');
  const fields = [
    `"time":"$time_iso8601"`,
    `"route":"${label}"`,
    `"arm":"${arm}"`,
    `"decision":"${decision}"`,
    `"status":$status`,
    `"method":"$request_method"`,
    `"uri":"$request_uri"`,
    `"request_time":$request_time`,
    `"upstream_status":"$upstream_status"`,
    `"upstream_response_time":"$upstream_response_time"`,
    `"upstream_addr":"$upstream_addr"`,
    `"bytes_sent":$body_bytes_sent`,
    `"request_id":"$request_id"`,
    `"generation":${generation}`,
  ];
  return [`log_format vireo_${plan.id} escape=json '{${fields.join(',')}}';`];
}

function renderAdmin(admin: NonNullable<NginxConfigOptions['admin']>, generation: number): string[] {
  const port = checkPort(admin.port, 'admin.port');
  return [
    '# Loopback-only admin server: the live generation (and stub_status when built in).',
    'server {',
    `  listen 127.0.0.1:${port};`,
    '  server_name _;',
    `  location = ${GENERATION_PATH} {`,
    `    add_header ${CONFIG_HEADER} ${generation} always;`,
    `    return 200 "${generation}\\n";`,
    '  }',
    ...(admin.stubStatus === true ? [`  location = ${STUB_STATUS_PATH} {`, '    stub_status;', '  }'] : []),
    '  location / {',
    '    return 404;',
    '  }',
    '}',
  ];
}

function map(source: string, target: string, fallback: string, rules: readonly string[]): string[] {
  return [`map ${source} ${target} {`, `  default ${fallback};`, ...rules.map((rule) => `  ${rule}`), '}'];
}

/** A variable with one value; the empty source keeps nginx from evaluating anything for it. */
function constant(target: string, value: string): string[] {
  return [`map "" ${target} {`, `  default ${value};`, '}'];
}

function braced(variable: string): string {
  return `\${${variable.slice(1)}}`;
}

function indent(lines: readonly string[], spaces = 2): string[] {
  const pad = ' '.repeat(spaces);
  return lines.map((line) => (line === '' ? line : pad + line));
}

// ---------------------------------------------------------------------------------------------
// Escaping. Two layers: a PCRE for the value, then an nginx double-quoted string for the PCRE.

/** An nginx double-quoted string: its parser unescapes exactly `\\` and `\"` (and \t \r \n). */
export function quote(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A literal for PCRE: every metacharacter escaped. */
export function regexLiteral(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}/#-]/g, (c) => `\\${c}`);
}

/** The cookie `name=value` anywhere in a Cookie header, as a whole pair. */
function cookiePattern(pair: string): string {
  return `(?:^|;)\\s*${regexLiteral(pair)}\\s*(?:;|$)`;
}

// ---------------------------------------------------------------------------------------------
// Validation.

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function checkPrefix(prefix: string): string {
  if (!isAbsolute(prefix))
    throw new InvalidRouteError('prefix', `must be an absolute directory, got "${prefix}"`);
  if (CONTROL.test(prefix) || prefix.includes('$') || prefix.includes('"') || prefix.includes('\\'))
    throw new InvalidRouteError('prefix', 'must not contain control characters, quotes, backslashes or "$"');
  return prefix.replace(/\/+$/, '') || '/';
}

function checkUser(user: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(user))
    throw new InvalidRouteError('user', `"${user}" is not a user name`);
  return user;
}

function workerProcesses(value: number | 'auto' | undefined): string {
  if (value === 'auto') return 'auto';
  return String(positiveInteger(value ?? 1, 'workerProcesses'));
}

function positiveInteger(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new InvalidRouteError(field, 'must be a positive integer');
  return value;
}

/** Kubernetes-style names (DNS labels with dots): they appear in upstream names and log lines. */
function checkName(name: string, field: string): string {
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(name))
    throw new InvalidRouteError(
      field,
      `"${name}" is not a valid name (lowercase letters, digits, "-" and ".")`,
    );
  return name;
}

function checkPort(port: number, field: string): number {
  if (port === 0)
    throw new InvalidRouteError(
      field,
      'port 0 cannot be written to nginx.conf: pick a free port first (NginxRouter.start and configure do)',
    );
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new InvalidRouteError(field, `${port} is not a TCP port (1–65535)`);
  return port;
}

function checkListen(listen: LocalRoute['listen'], field: string): string {
  const port = checkPort(listen.port, `${field}.port`);
  return `${hostForNginx(listen.host, `${field}.host`)}:${port}`;
}

function hostForNginx(host: string, field: string): string {
  if (isIPv4(host)) return host;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIPv6(bare)) return `[${bare}]`;
  if (/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) return host;
  throw new InvalidRouteError(field, `"${host}" is not an IP address or host name`);
}

/** A replica base URL, e.g. http://127.0.0.1:41001, as an upstream `server` address. */
function checkReplica(url: string, field: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidRouteError(field, `"${url}" is not a URL`);
  }
  if (parsed.protocol !== 'http:')
    throw new InvalidRouteError(field, `"${url}": the nginx router proxies to http:// replicas only`);
  if (parsed.username !== '' || parsed.password !== '' || parsed.search !== '' || parsed.hash !== '')
    throw new InvalidRouteError(field, `"${url}": give only scheme, host and port`);
  if (parsed.pathname !== '/' && parsed.pathname !== '')
    throw new InvalidRouteError(field, `"${url}": a replica URL has no path (requests keep their own)`);
  const port = parsed.port === '' ? 80 : Number(parsed.port);
  return `${hostForNginx(parsed.hostname, field)}:${port}`;
}

function percent(value: number, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 100)
    throw new InvalidRouteError(field, `${value} is not a percentage between 0 and 100`);
  // split_clients has two decimals of precision.
  return Math.round(value * 100) / 100;
}

function checkMatch(entry: AnalysisMatch, field: string): Condition[] {
  if (entry.sourceLabels !== undefined && Object.keys(entry.sourceLabels).length > 0)
    throw new InvalidRouteError(
      `${field}.sourceLabels`,
      'source labels are an Istio feature; local routers cannot match them',
    );
  const conditions = [
    ...Object.entries(entry.headers ?? {}).map(([name, match]) =>
      headerCondition(name, match, `${field}.headers[${JSON.stringify(name)}]`),
    ),
    ...Object.entries(entry.queryParams ?? {}).map(([name, match]) =>
      queryCondition(name, match, `${field}.queryParams[${JSON.stringify(name)}]`),
    ),
  ];
  if (conditions.length === 0)
    throw new InvalidRouteError(
      field,
      'an entry without headers or queryParams would send every request to the canary',
    );
  return conditions;
}

interface StringMatch {
  readonly exact?: string | undefined;
  readonly prefix?: string | undefined;
  readonly suffix?: string | undefined;
  readonly regex?: string | undefined;
}

function headerCondition(name: string, match: StringMatch, field: string): Condition {
  if (name.startsWith(':'))
    throw new InvalidRouteError(field, `pseudo-header "${name}" cannot be matched by the nginx router`);
  // nginx drops headers with "_" or other characters by default (ignore_invalid_headers), and
  // its $http_<name> variable turns "-" into "_".
  if (!/^[A-Za-z0-9-]+$/.test(name))
    throw new InvalidRouteError(field, 'header names may contain only letters, digits and "-"');
  const pattern = stringMatchPattern(match, field);
  if (pattern === undefined) throw new InvalidRouteError(field, 'set one of exact, prefix, suffix or regex');
  return { source: `$http_${name.toLowerCase().replace(/-/g, '_')}`, pattern };
}

function queryCondition(name: string, match: StringMatch, field: string): Condition {
  // $arg_<name> is nginx's only per-parameter variable, and variable names are [A-Za-z0-9_].
  if (!/^[A-Za-z0-9_]+$/.test(name))
    throw new InvalidRouteError(field, 'query parameter names may contain only letters, digits and "_"');
  if (match.suffix !== undefined)
    throw new InvalidRouteError(`${field}.suffix`, 'query parameters match exact, prefix or regex');
  const pattern = stringMatchPattern(match, field);
  if (pattern === undefined) return { source: '$args', pattern: `(?:^|&)${regexLiteral(name)}(?:=|&|$)` };
  return { source: `$arg_${name}`, pattern };
}

/** The PCRE for one string match, anchored as Istio's (RE2 full match); undefined when none is set. */
function stringMatchPattern(match: StringMatch, field: string): string | undefined {
  const set = (['exact', 'prefix', 'suffix', 'regex'] as const).filter((key) => match[key] !== undefined);
  if (set.length > 1) throw new InvalidRouteError(field, `set only one of ${set.join(', ')}`);
  const key = set[0];
  if (key === undefined) return undefined;
  const value = checkText(match[key] ?? '', `${field}.${key}`);
  switch (key) {
    case 'exact':
      return `^${regexLiteral(value)}$`;
    case 'prefix':
      return `^${regexLiteral(value)}`;
    case 'suffix':
      return `${regexLiteral(value)}$`;
    case 'regex':
      return `^(?:${checkRegexGroups(value, `${field}.regex`)})$`;
  }
}

function checkText(value: string, field: string): string {
  if (typeof value !== 'string') throw new InvalidRouteError(field, 'must be a string');
  if (CONTROL.test(value)) throw new InvalidRouteError(field, 'must not contain control characters');
  return value;
}

/**
 * The regex is wrapped as `^(?:…)$`; an unbalanced `)` would close that group early and change
 * the anchoring, so parentheses must balance (escapes and character classes taken into account).
 * nginx's PCRE checks the rest when the config is tested.
 */
function checkRegexGroups(regex: string, field: string): string {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < regex.length; i += 1) {
    const c = regex[i];
    if (c === '\\') {
      i += 1;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      // A ']' right after '[' or '[^' is a literal member of the class.
      if (regex[i + 1] === '^') i += 1;
      if (regex[i + 1] === ']') i += 1;
    } else if (c === '(') depth += 1;
    else if (c === ')') {
      depth -= 1;
      if (depth < 0) throw new InvalidRouteError(field, `unbalanced ")" at position ${i + 1}`);
    }
  }
  if (inClass) throw new InvalidRouteError(field, 'unterminated character class "["');
  if (depth !== 0) throw new InvalidRouteError(field, 'unbalanced "("');
  return regex;
}

// RFC 6265 cookie-name (a token) without "$", which nginx would read as a variable.
const COOKIE_NAME = /^[A-Za-z0-9!#%&'*+.^_`|~-]+$/;
// RFC 6265 cookie-octet without "$".
const COOKIE_VALUE = /^[\x21\x23\x25-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;

function checkAffinity(rule: SessionAffinityRule, field: string): CheckedAffinity {
  const name = cookieName(rule.cookieName, `${field}.cookieName`);
  const value = (text: string | undefined, key: string): string | undefined => {
    if (text === undefined) return undefined;
    if (!COOKIE_VALUE.test(text))
      throw new InvalidRouteError(
        `${field}.${key}`,
        'cookie values may not contain spaces, quotes, ",", ";", "\\" or "$"',
      );
    return text;
  };
  const canaryValue = value(rule.canaryValue, 'canaryValue');
  const previousValue = value(rule.previousValue, 'previousValue');
  const primaryValue = value(rule.primaryValue, 'primaryValue');
  const primaryName =
    rule.primaryCookieName === undefined
      ? undefined
      : cookieName(rule.primaryCookieName, `${field}.primaryCookieName`);
  if (primaryName !== undefined && primaryName === name)
    throw new InvalidRouteError(`${field}.primaryCookieName`, 'must differ from cookieName');
  const attributes = cookieAttributes(rule, field);
  const maxAge = nonNegativeInteger(rule.maxAgeSeconds, `${field}.maxAgeSeconds`);
  const primaryMaxAge = nonNegativeInteger(rule.primaryMaxAgeSeconds, `${field}.primaryMaxAgeSeconds`);

  const canaryCookie = canaryValue === undefined ? undefined : `${name}=${canaryValue}`;
  const primaryCookie =
    primaryName === undefined || primaryValue === undefined ? undefined : `${primaryName}=${primaryValue}`;
  const previousCookie = previousValue === undefined ? undefined : `${name}=${previousValue}`;
  return {
    ...(canaryCookie === undefined
      ? {}
      : { canaryCookie, canarySetCookie: `${canaryCookie}; Max-Age=${maxAge}${attributes}` }),
    ...(primaryCookie === undefined
      ? {}
      : { primaryCookie, primarySetCookie: `${primaryCookie}; Max-Age=${primaryMaxAge}${attributes}` }),
    ...(previousCookie === undefined
      ? {}
      : { previousCookie, expireCookie: `${previousCookie}; Max-Age=-1${attributes}` }),
  };
}

function cookieName(name: string, field: string): string {
  if (!COOKIE_NAME.test(name))
    throw new InvalidRouteError(field, `"${name}" is not a cookie name (an RFC 6265 token without "$")`);
  return name;
}

function nonNegativeInteger(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new InvalidRouteError(field, 'must be a whole number of seconds');
  return value;
}

/** `[; Domain][; HttpOnly][; Path][; SameSite][; Secure]`, Flagger's order. */
function cookieAttributes(rule: SessionAffinityRule, field: string): string {
  let text = '';
  if (rule.domain !== undefined) {
    if (!/^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(rule.domain))
      throw new InvalidRouteError(`${field}.domain`, `"${rule.domain}" is not a domain name`);
    text += `; Domain=${rule.domain}`;
  }
  if (rule.httpOnly === true) text += '; HttpOnly';
  if (rule.path !== undefined) {
    if (!/^\/[\x21\x23\x25-\x3a\x3c-\x5b\x5d-\x7e]*$/.test(rule.path))
      throw new InvalidRouteError(
        `${field}.path`,
        `"${rule.path}" must start with "/" and hold no spaces, quotes, ";", "\\" or "$"`,
      );
    text += `; Path=${rule.path}`;
  }
  if (rule.sameSite !== undefined) {
    if (!['Strict', 'Lax', 'None'].includes(rule.sameSite))
      throw new InvalidRouteError(`${field}.sameSite`, 'must be Strict, Lax or None');
    text += `; SameSite=${rule.sameSite}`;
  }
  if (rule.secure === true) text += '; Secure';
  return text;
}
