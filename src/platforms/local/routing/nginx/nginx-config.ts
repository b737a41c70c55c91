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
 * Every route is first checked by the rules all local routers follow (../route-check.ts), so
 * nginx serves exactly the routes the built-in proxy serves. Everything a user wrote (header
 * names, regexes, cookie names and values, paths) is then written only inside double-quoted
 * strings with `\` and `"` escaped, never as a bare token: nginx's parser ends a quoted string
 * only at an unescaped quote, so `;`, `{` or `}` inside one cannot start a directive. What nginx
 * would interpret inside a string anyway (`$` in cookies it interpolates, control characters) is
 * already refused by those rules, with an InvalidRouteError naming the field.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { isAbsolute } from 'node:path';
import type { LocalRoute } from '../route.js';
import { checkRoute, InvalidRouteError, type CheckedCondition, type CheckedRoute } from '../route-check.js';

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
    const checked = checkRoute(route, field);
    const { namespace, service } = route;
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
    return planRoute(checked, id, listen);
  });
}

function planRoute(checked: CheckedRoute, id: string, listen: string): RoutePlan {
  const { route } = checked;
  const primary = checked.primary.map(upstreamServer);
  const canary = checked.canary.map(upstreamServer);
  const weight = twoDecimals(checked.canaryWeight);
  const mirrorWeight = twoDecimals(checked.mirrorWeight);
  const matches = checked.matches.map((entry) => [
    ...entry.headers.map(headerCondition),
    ...entry.queryParams.map(queryCondition),
  ]);
  const affinity = checked.affinity === undefined ? undefined : nginxCookies(checked.affinity);
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
    mirrorPercent: onlyArm === undefined && primary.length > 0 ? mirrorWeight : 0,
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
  return `${hostForNginx(listen.host)}:${checkPort(listen.port, `${field}.port`)}`;
}

/** An address checkRoute accepted (IP or host name), as nginx writes it: IPv6 in brackets. */
function hostForNginx(host: string): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isIPv6(bare) && !isIPv4(host) ? `[${bare}]` : host;
}

/** A replica base URL, e.g. http://127.0.0.1:41001, as an upstream `server` address. */
function upstreamServer(url: URL): string {
  return `${hostForNginx(url.hostname)}:${url.port === '' ? 80 : url.port}`;
}

/** split_clients has two decimals of precision. */
function twoDecimals(percent: number): number {
  return Math.round(percent * 100) / 100;
}

function headerCondition(condition: CheckedCondition): Condition {
  return {
    // $http_<name>: lowercase, "-" as "_" (route-check allows only letters, digits and "-").
    source: `$http_${condition.name.replace(/-/g, '_')}`,
    pattern: stringMatchPattern(condition),
  };
}

function queryCondition(condition: CheckedCondition): Condition {
  if (condition.kind === undefined)
    return { source: '$args', pattern: `(?:^|&)${regexLiteral(condition.name)}(?:=|&|$)` };
  return { source: `$arg_${condition.name}`, pattern: stringMatchPattern(condition) };
}

/** The PCRE for one string match, anchored as Istio's (RE2 full match). */
function stringMatchPattern(condition: CheckedCondition): string {
  const { value } = condition;
  switch (condition.kind) {
    case undefined:
      return '';
    case 'exact':
      return `^${regexLiteral(value)}$`;
    case 'prefix':
      return `^${regexLiteral(value)}`;
    case 'suffix':
      return `${regexLiteral(value)}$`;
    case 'regex':
      // RE2 accepted it, so its groups balance: the wrapping group keeps the anchoring.
      return `^(?:${value})$`;
  }
}

/** The cookies as the config uses them: `name=value` pairs to look for and Set-Cookie values. */
function nginxCookies(affinity: NonNullable<CheckedRoute['affinity']>): CheckedAffinity {
  const { canary, primary, previous } = affinity;
  const pair = (cookie: { name: string; value: string }): string => `${cookie.name}=${cookie.value}`;
  return {
    ...(canary === undefined ? {} : { canaryCookie: pair(canary), canarySetCookie: canary.setCookie }),
    ...(primary === undefined ? {} : { primaryCookie: pair(primary), primarySetCookie: primary.setCookie }),
    ...(previous === undefined ? {} : { previousCookie: pair(previous), expireCookie: previous.setCookie }),
  };
}
