/**
 * The dashboard's HTTP server (docs/dashboard.md): the page and its two assets, the JSON API under
 * /api/, and server-sent events fed by the one CanaryFeed. node:http rather than a framework: a
 * dozen routes, and every header and refusal is ours to see (docs/adr/0035-web-dashboard.md).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Decision } from '../engine/decisions.js';
import {
  CanaryNotFoundError,
  type CanaryAction,
  type CanaryActions,
  type CanaryObject,
  type OperationsBackend,
  type Revisions,
} from '../cli/ops/port.js';
import { KubeApiError } from '../platforms/kubernetes/errors.js';
import { VireoError } from '../shared/errors.js';
import { DashboardAssets } from './assets.js';
import {
  DashboardForbiddenError,
  describePermission,
  type DashboardAuth,
  type Permission,
  type Principal,
} from './auth.js';
import type { CanaryFeed, FeedEvent } from './events.js';
import type { GateClient } from './gates.js';
import {
  CSRF_HEADER,
  CsrfTokens,
  hostAllowed,
  isLoopbackHost,
  originAllowed,
  SECURITY_HEADERS,
} from './security.js';
import { canaryDetail, canaryRow } from './views.js';

export const CANARY_ACTIONS: readonly CanaryAction[] = ['promote', 'abort', 'pause', 'resume', 'retry'];
const MAX_BODY_BYTES = 16 * 1024;
const MAX_STREAMS = 200;
const KEEPALIVE_MS = 15_000;
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface DashboardServerOptions {
  readonly host: string;
  readonly port: number;
  readonly backend: OperationsBackend;
  readonly feed: CanaryFeed;
  readonly auth: DashboardAuth;
  /** undefined: the actions are not offered (the page hides their buttons). */
  readonly actions: CanaryActions | undefined;
  readonly gates: GateClient | undefined;
  /** 'cluster', 'local' or 'controller': shown on the page. */
  readonly mode: string;
  /** The controller's own health (watches, queue, leader) when served by the controller. */
  readonly controllerHealth?: () => Record<string, unknown>;
  readonly now?: () => Date;
  readonly assets?: DashboardAssets;
  readonly csrf?: CsrfTokens;
}

export interface DashboardServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export class DashboardRefusedError extends VireoError {}

/** Refuses a dashboard reachable beyond loopback that anyone could use (docs/dashboard.md "Security"). */
export function checkExposure(host: string, authConfigured: boolean): void {
  if (!isLoopbackHost(host) && !authConfigured)
    throw new DashboardRefusedError(
      'E_DASHBOARD_UNPROTECTED',
      `--address ${host}: a dashboard reachable beyond loopback needs authentication: pass --token (or set VIREO_DASHBOARD_TOKEN), or serve a cluster, where users sign in with their own Kubernetes tokens; or bind 127.0.0.1`,
    );
}

export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  checkExposure(options.host, options.auth.configured);
  const assets = options.assets ?? new DashboardAssets();
  const csrf = options.csrf ?? new CsrfTokens();
  const now = options.now ?? (() => new Date());
  const loopbackOnly = isLoopbackHost(options.host);
  const streams = new Set<ServerResponse>();
  const revisionsCache = new Map<string, Revisions>();

  const send = (response: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8' });
    response.end(text);
  };

  async function principalOf(request: IncomingMessage): Promise<Principal> {
    let principal: Principal | undefined;
    try {
      principal = await options.auth.authenticate(request.headers.authorization);
    } catch (error) {
      throw new HttpError(503, 'E_DASHBOARD_AUTH_UNAVAILABLE', `cannot check the token: ${messageOf(error)}`);
    }
    if (principal === undefined)
      throw new HttpError(
        401,
        'E_DASHBOARD_UNAUTHENTICATED',
        'sign in: send Authorization: Bearer with the dashboard token or your Kubernetes token',
      );
    return principal;
  }

  const canaryPermission = (verb: string, namespace: string | undefined): Permission => ({
    verb,
    group: 'flagger.app',
    resource: 'canaries',
    namespace,
  });

  /** Namespaces whose canaries this principal may list (all, when allowed everywhere). */
  async function visible(principal: Principal, namespaces: Iterable<string>): Promise<Set<string>> {
    const all = [...new Set(namespaces)];
    if (await options.auth.allowed(principal, canaryPermission('list', undefined))) return new Set(all);
    const allowed = await Promise.all(
      all.map(async (namespace) =>
        (await options.auth.allowed(principal, canaryPermission('list', namespace))) ? namespace : undefined,
      ),
    );
    return new Set(allowed.filter((namespace): namespace is string => namespace !== undefined));
  }

  async function entryOf(namespace: string, name: string) {
    const cached = options.feed.get(namespace, name);
    if (cached !== undefined) return cached;
    // Not in the feed (yet): ask the backend once, which says "not found" in the CLI's words.
    const canary = await options.backend.get(namespace, name);
    return { canary, decisions: await options.backend.decisions(namespace, name) };
  }

  async function revisionsOf(canary: CanaryObject): Promise<Revisions> {
    // One read per canary change, whichever number of pages show it.
    const key = `${canary.metadata.namespace}/${canary.metadata.name}@${canary.metadata.resourceVersion ?? JSON.stringify(canary.status ?? {})}`;
    const cached = revisionsCache.get(key);
    if (cached !== undefined) return cached;
    const revisions = await options.backend.revisions(canary);
    if (revisionsCache.size > 1000) revisionsCache.clear();
    revisionsCache.set(key, revisions);
    return revisions;
  }

  async function detail(principal: Principal, namespace: string, name: string) {
    await options.auth.authorize(principal, canaryPermission('get', namespace));
    const entry = await entryOf(namespace, name);
    const decisionsPermission: Permission = { verb: 'get', group: '', resource: 'configmaps', namespace };
    const mayReadDecisions = await options.auth.allowed(principal, decisionsPermission);
    const workloadPermission: Permission = { verb: 'get', group: 'apps', resource: 'deployments', namespace };
    const mayReadWorkloads = await options.auth.allowed(principal, workloadPermission);
    const decisions: readonly Decision[] = mayReadDecisions ? entry.decisions : [];
    const revisions: Revisions = mayReadWorkloads
      ? await revisionsOf(entry.canary)
      : { note: `${principal.name} may not ${describePermission(workloadPermission)}` };
    return canaryDetail(
      entry.canary,
      decisions,
      revisions,
      now(),
      mayReadDecisions ? undefined : `${principal.name} may not ${describePermission(decisionsPermission)}`,
    );
  }

  async function handleApi(request: IncomingMessage, response: ServerResponse, path: string): Promise<void> {
    const principal = await principalOf(request);
    const method = request.method ?? 'GET';
    const parts = path
      .split('/')
      .filter((part) => part !== '')
      .map(decodeURIComponent);
    // parts[0] === 'api'
    if (method === 'GET' && parts.length === 2 && parts[1] === 'session') {
      return send(response, 200, {
        user: principal.name,
        kind: principal.kind,
        csrfToken: csrf.tokenFor(request.headers.authorization ?? ''),
        mode: options.mode,
        where: options.backend.where,
        actions: options.actions === undefined ? [] : CANARY_ACTIONS,
        gates: options.gates !== undefined,
      });
    }
    if (method === 'GET' && parts.length === 2 && parts[1] === 'health') {
      return send(response, 200, {
        mode: options.mode,
        where: options.backend.where,
        feed: options.feed.health(),
        ...(options.controllerHealth === undefined ? {} : { controller: options.controllerHealth() }),
      });
    }
    if (method === 'GET' && parts.length === 2 && parts[1] === 'events')
      return stream(request, response, principal);
    if (parts[1] !== 'canaries') throw new HttpError(404, 'E_DASHBOARD_NO_ROUTE', `no API route ${path}`);
    if (method === 'GET' && parts.length === 2) {
      const entries = options.feed.list();
      const allowed = await visible(
        principal,
        entries.map((entry) => entry.canary.metadata.namespace ?? 'default'),
      );
      const rows = entries
        .filter((entry) => allowed.has(entry.canary.metadata.namespace ?? 'default'))
        .map((entry) => canaryRow(entry.canary, entry.decisions))
        .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
      return send(response, 200, { items: rows });
    }
    const namespace = parts[2] ?? '';
    const name = parts[3] ?? '';
    if (!NAME.test(namespace) || !NAME.test(name))
      throw new HttpError(
        400,
        'E_DASHBOARD_BAD_REQUEST',
        'the path is /api/canaries/NAMESPACE/NAME with Kubernetes names',
      );
    if (method === 'GET' && parts.length === 4)
      return send(response, 200, await detail(principal, namespace, name));
    if (method === 'GET' && parts.length === 5 && parts[4] === 'decisions') {
      await options.auth.authorize(principal, canaryPermission('get', namespace));
      await options.auth.authorize(principal, { verb: 'get', group: '', resource: 'configmaps', namespace });
      return send(response, 200, { items: (await entryOf(namespace, name)).decisions });
    }
    if (method === 'POST' && parts.length === 5 && (parts[4] === 'actions' || parts[4] === 'gates')) {
      const credential = request.headers.authorization ?? '';
      if (!originAllowed(request.headers.origin, request.headers.host))
        throw new HttpError(
          403,
          'E_DASHBOARD_CSRF',
          "the request comes from another origin: actions are taken from the dashboard's own page",
        );
      const presented = request.headers[CSRF_HEADER];
      if (!csrf.verify(credential, typeof presented === 'string' ? presented : undefined))
        throw new HttpError(
          403,
          'E_DASHBOARD_CSRF',
          `missing or wrong ${CSRF_HEADER} header: reload the page (GET /api/session gives the token)`,
        );
      const body = await readJson(request);
      const reason = typeof body['reason'] === 'string' ? body['reason'].trim() : '';
      if (
        reason === '' ||
        reason.length > 1024 ||
        [...reason].some((character) => character < ' ' || character === '\u007f')
      )
        throw new HttpError(
          400,
          'E_DASHBOARD_BAD_REQUEST',
          'reason: say why in one line (1 to 1024 characters): every action is recorded with its reason',
        );
      await options.auth.authorize(principal, canaryPermission('patch', namespace));
      const by = principal.kind === 'kubernetes' ? principal.name : 'dashboard-token';
      if (parts[4] === 'actions') {
        const action = body['action'];
        if (typeof action !== 'string' || !(CANARY_ACTIONS as readonly string[]).includes(action))
          throw new HttpError(400, 'E_DASHBOARD_BAD_REQUEST', `action: one of ${CANARY_ACTIONS.join(', ')}`);
        if (options.actions === undefined)
          throw new HttpError(501, 'E_DASHBOARD_NO_ACTIONS', 'this dashboard was started without actions');
        const receipt = await options.actions.act(namespace, name, {
          action: action as CanaryAction,
          reason,
          by,
        });
        return send(response, 200, receipt);
      }
      const gate = body['gate'];
      if (gate !== 'open' && gate !== 'close')
        throw new HttpError(400, 'E_DASHBOARD_BAD_REQUEST', 'gate: open or close');
      if (options.gates === undefined)
        throw new HttpError(501, 'E_DASHBOARD_NO_ACTIONS', 'this dashboard was started without gate actions');
      const entry = await entryOf(namespace, name);
      const loadtester = canaryDetail(entry.canary, [], {}, now()).gates.find(
        (view) => view.loadtester !== undefined,
      )?.loadtester;
      if (loadtester === undefined)
        throw new HttpError(
          409,
          'E_DASHBOARD_NO_GATE',
          `canary ${name} has no confirm gate webhook to open or close`,
        );
      return send(response, 200, await options.gates.set(loadtester, namespace, name, gate));
    }
    throw new HttpError(404, 'E_DASHBOARD_NO_ROUTE', `no API route ${method} ${path}`);
  }

  function stream(request: IncomingMessage, response: ServerResponse, principal: Principal): void {
    if (streams.size >= MAX_STREAMS)
      throw new HttpError(503, 'E_DASHBOARD_BUSY', 'too many live pages are open: close some and reload');
    response.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    streams.add(response);
    response.write(`event: hello\ndata: ${JSON.stringify({ user: principal.name })}\n\n`);
    let queue = Promise.resolve();
    const onEvent = (event: FeedEvent): void => {
      queue = queue
        .then(async () => {
          // The token may have expired or the RBAC changed since the page opened: ask again (cached).
          const still = await options.auth.authenticate(request.headers.authorization).catch(() => undefined);
          if (still === undefined) return void response.end();
          const namespace =
            event.type === 'deleted' ? event.namespace : (event.entry.canary.metadata.namespace ?? 'default');
          if (!(await visible(still, [namespace])).has(namespace)) return;
          if (event.type === 'deleted')
            response.write(`event: deleted\ndata: ${JSON.stringify({ namespace, name: event.name })}\n\n`);
          else
            response.write(
              `event: canary\ndata: ${JSON.stringify(canaryRow(event.entry.canary, event.entry.decisions))}\n\n`,
            );
        })
        .catch(() => undefined);
    };
    const unsubscribe = options.feed.subscribe(onEvent);
    const keepalive = setInterval(() => response.write(': keepalive\n\n'), KEEPALIVE_MS);
    response.on('close', () => {
      clearInterval(keepalive);
      unsubscribe();
      streams.delete(response);
    });
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!hostAllowed(request.headers.host, loopbackOnly))
      throw new HttpError(
        421,
        'E_DASHBOARD_BAD_HOST',
        'this dashboard answers to 127.0.0.1, localhost or [::1] only',
      );
    const url = new URL(request.url ?? '/', 'http://dashboard.invalid');
    const path = url.pathname;
    if (url.search !== '' && path.startsWith('/api/'))
      // Credentials never travel in URLs; nothing here takes a query either.
      throw new HttpError(400, 'E_DASHBOARD_BAD_REQUEST', 'the API takes no query parameters');
    if (path.startsWith('/api/')) return handleApi(request, response, path);
    if (request.method !== 'GET' && request.method !== 'HEAD')
      throw new HttpError(405, 'E_DASHBOARD_NO_ROUTE', 'only GET serves pages');
    const asset = assets.lookup(path);
    if (asset === undefined) throw new HttpError(404, 'E_DASHBOARD_NO_ROUTE', `no page ${path}`);
    response.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': asset.type,
      'content-length': asset.body.length,
    });
    response.end(request.method === 'HEAD' ? undefined : asset.body);
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) return void response.end();
      const { status, body } = errorAnswer(error);
      if (status === 401) response.setHeader('www-authenticate', 'Bearer realm="vireo-dashboard"');
      send(response, status, body);
    });
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause) =>
      reject(
        new VireoError(
          'E_DASHBOARD_LISTEN',
          `cannot listen on ${options.host}:${options.port} (--address): ${cause.message}`,
        ),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    port,
    url: `http://${shownHost}:${port}/`,
    close: async () => {
      for (const response of streams) response.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function errorAnswer(error: unknown): { status: number; body: Record<string, unknown> } {
  if (error instanceof HttpError)
    return { status: error.status, body: { code: error.code, error: error.message, ...error.extra } };
  if (error instanceof DashboardForbiddenError)
    return {
      status: 403,
      body: { code: error.code, error: error.message, permission: describePermission(error.permission) },
    };
  if (error instanceof CanaryNotFoundError)
    return { status: 404, body: { code: error.code, error: error.message } };
  if (error instanceof KubeApiError) {
    const status = error.code === 'E_KUBE_FORBIDDEN' ? 403 : error.code === 'E_KUBE_NOT_FOUND' ? 404 : 502;
    return { status, body: { code: error.code, error: error.message } };
  }
  if (error instanceof VireoError) {
    const status = /FORBIDDEN|RBAC/.test(error.code)
      ? 403
      : /PENDING|PAUSED|CONFLICT/.test(error.code)
        ? 409
        : /NOT_FOUND/.test(error.code)
          ? 404
          : /USAGE|INVALID|BAD/.test(error.code)
            ? 400
            : 500;
    return { status, body: { code: error.code, error: error.message } };
  }
  return { status: 500, body: { code: 'E_DASHBOARD_INTERNAL', error: messageOf(error) } };
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  if (!(request.headers['content-type'] ?? '').startsWith('application/json'))
    throw new HttpError(415, 'E_DASHBOARD_BAD_REQUEST', 'send the body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, 'E_DASHBOARD_BAD_REQUEST', 'the body is larger than 16 KiB');
    chunks.push(chunk);
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // Answered below.
  }
  throw new HttpError(400, 'E_DASHBOARD_BAD_REQUEST', 'the body is not a JSON object');
}
