/**
 * Local mode's built-in router: an HTTP/1.1 reverse proxy on node:http, one listener per
 * LocalRoute, splitting each request between the primary and canary replicas by the rules in
 * routing.ts, streaming bodies both ways, and recording every answer in a TrafficRecorder.
 *
 * Upstream connections come from three keep-alive pools per router (docs/adr/0015-router-upstream-clients.md):
 * - the fast lane's requests (most traffic) go through our own UpstreamClient (upstream-client.ts,
 *   docs/adr/0036-router-upstream-client.md);
 * - other requests without a body (GET, HEAD, DELETE on node:http's path) go through an undici Agent, whose
 *   client costs about half of node:http's per request. Nothing of the client's is consumed before
 *   the upstream answers, so a refused connection still fails over to the next replica;
 * - requests with a body go through a node:http `Agent`, because the proxy must not read a byte of
 *   the body until an upstream socket is connected (that is what lets a POST fail over when a
 *   replica refuses connections), and node:http exposes the socket's `connect`.
 *
 * Reconfiguration swaps one immutable routing table: a request reads the table once when it
 * arrives, so requests in flight finish where they started, and the listener and the clients'
 * keep-alive connections are never touched.
 */
import {
  Agent,
  createServer,
  request as httpRequest,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { Agent as UndiciAgent, type Dispatcher } from 'undici';
import { VireoError } from '../../../../shared/errors.js';
import { silentLogger, type Logger } from '../../../../shared/logger.js';
import { hostForUrl, listenOn, type TrafficRecorder } from './recorder.js';
import type { LocalRoute } from '../route.js';
import { InvalidRouteError } from '../route-check.js';
import {
  compileRoute,
  decide,
  sameReplicas,
  type Arm,
  type RoutingDecision,
  type RoutingTable,
} from './routing.js';
import { serveFast, type FastConnection, type FastLaneHost } from './fast-lane.js';
import { UpstreamClient } from './upstream-client.js';
import { connectionTokens, HOP_BY_HOP, ONE_WRITE_LIMIT_BYTES, ONLY_HOP_BY_HOP_TOKEN } from './hop-by-hop.js';

/** Response header naming the arm that answered: `primary` or `canary`. */
export const BACKEND_HEADER = 'x-vireo-backend';
/** Request header on mirrored copies, so a canary can tell shadow traffic apart. */
export const MIRROR_HEADER = 'x-vireo-mirror';
/** A mirrored copy whose answer has not ended by then is abandoned and counted as a 502. */
export const DEFAULT_MIRROR_TIMEOUT_MS = 30_000;
/** close() waits this long for requests in flight before cutting connections. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** Request body bytes a mirror may fall behind the primary before its copy is abandoned. */
export const MIRROR_BACKLOG_LIMIT_BYTES = 8 * 1024 * 1024;
/** Recorded when the client went away before any answer (nginx's convention). */
export const CLIENT_CLOSED_STATUS = 499;

/** Connection failures that prove the request never reached the replica: safe to try another. */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

export interface ProxyRouterDeps {
  readonly recorder: TrafficRecorder;
  readonly logger?: Logger;
  /** Milliseconds; durations are measured with it (default: a sub-millisecond wall clock). */
  readonly now?: () => number;
  /** Uniform in [0, 1); drives the weighted split and mirroring (see routing.ts `decide`). */
  readonly random?: () => number;
  readonly mirrorTimeoutMs?: number;
  readonly drainTimeoutMs?: number;
}

/** One request's journey; `status` is what the client was (or is being) answered. */
interface Exchange {
  readonly router: ProxyRouter;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly table: RoutingTable;
  readonly decision: RoutingDecision;
  readonly started: number;
  status?: number;
  upstream?: ClientRequest;
  upstreamResponse?: IncomingMessage;
  mirror?: MirrorCopy;
  abortUpstream?: ((reason: Error) => void) | undefined;
}

export class ProxyRouter {
  private table: RoutingTable;
  /** The listener: connections start on the fast lane (fast-lane.ts), which hands others to `server`. */
  private readonly listener: NetServer;
  /** node:http, for every request the fast lane does not take (bodies, Expect, HTTP/1.0, ...). */
  private readonly server: Server;
  private readonly fastConnections = new Set<FastConnection>();
  private readonly lane: FastLaneHost;
  private readonly agent: Agent;
  private readonly dispatcher: UndiciAgent;
  /** The fast lane's own upstream client (docs/adr/0036-router-upstream-client.md). */
  private readonly upstreamClient: UpstreamClient;
  private readonly recorder: TrafficRecorder;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly mirrorTimeoutMs: number;
  private readonly drainTimeoutMs: number;
  private closing: Promise<void> | undefined;
  private boundPort = 0;

  private constructor(table: RoutingTable, deps: ProxyRouterDeps) {
    this.table = table;
    this.recorder = deps.recorder;
    this.logger = (deps.logger ?? silentLogger()).child({
      router: `${table.route.namespace}/${table.route.service}`,
    });
    // timeOrigin is read once: its getter calls into the runtime, and this clock runs twice a request.
    const origin = performance.timeOrigin;
    this.now = deps.now ?? (() => origin + performance.now());
    this.random = deps.random ?? Math.random;
    this.mirrorTimeoutMs = deps.mirrorTimeoutMs ?? DEFAULT_MIRROR_TIMEOUT_MS;
    this.drainTimeoutMs = deps.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    // `timeout` also arms node's use of the upstream's `Keep-Alive: timeout=N` hint, which
    // retires idle sockets just before the upstream would close them.
    this.agent = new Agent({ keepAlive: true, scheduling: 'lifo', timeout: 30_000 });
    // undici honours the same hint, and keeps an idle connection 4 s without one (its default).
    // No header or body timeout: like the node:http path, a slow upstream is the client's to give up on.
    this.dispatcher = new UndiciAgent({ headersTimeout: 0, bodyTimeout: 0 });
    // The fast lane's trips: the same keep-alive rules (the upstream's hint, else 4 s), no timeouts.
    this.upstreamClient = new UpstreamClient();
    this.server = createServer((req, res) => this.handle(req, res));
    this.lane = this.fastLaneHost();
    // Same socket options as node:http's own listener, so a connection handed over behaves alike.
    this.listener = createNetServer({ allowHalfOpen: true, noDelay: true }, (socket) =>
      serveFast(this.lane, socket, this.fastConnections),
    );
  }

  /** What the fast lane reads from and reports to this router. */
  private fastLaneHost(): FastLaneHost {
    return {
      currentTable: () => this.table,
      decideFor: (table, headers, url) => {
        try {
          return decide(table, { headers, url }, this.random);
        } catch (cause) {
          this.logger.error({ err: cause }, 'routing failed');
          return undefined;
        }
      },
      dispatcher: this.upstreamClient,
      now: this.now,
      isClosing: () => this.closing !== undefined,
      handOver: (socket, pending) => this.handOver(socket, pending),
      record: (table, backend, status, started) =>
        this.recordAnswer(table, backend, status ?? CLIENT_CLOSED_STATUS, started),
      mirror: (table, method, url, headers) => {
        const object: OutgoingHttpHeaders = {};
        for (let i = 0; i < headers.length; i += 2) {
          const name = headers[i]!;
          const prior = object[name];
          object[name] = prior === undefined ? headers[i + 1]! : `${String(prior)}, ${headers[i + 1]!}`;
        }
        this.startMirror(table, method, url, object)?.end();
      },
      backendHeader: BACKEND_HEADER,
    };
  }

  /** A connection leaves the fast lane for node:http, with the bytes it had already sent. */
  private handOver(socket: Socket, pending: Buffer | undefined): void {
    this.server.emit('connection', socket);
    if (pending !== undefined) socket.unshift(pending);
  }

  /** Checks the route, then listens on route.listen (port 0: any free port). */
  static async start(route: LocalRoute, deps: ProxyRouterDeps): Promise<ProxyRouter> {
    const router = new ProxyRouter(compileRoute(route), deps);
    await listenOn(router.listener, route.listen);
    router.boundPort = (router.listener.address() as AddressInfo).port;
    // node:http never listens itself (connections reach it from the fast lane); 'listening' starts
    // its checks of headersTimeout, requestTimeout and keepAliveTimeout on those connections.
    router.server.emit('listening');
    // After listening, errors are transient (e.g. EMFILE on accept): log them, never crash.
    router.listener.on('error', (error) => router.logger.error({ err: error }, 'router listener error'));
    router.logger.info({ url: router.url }, 'router listening');
    return router;
  }

  /** The port actually bound (still readable after close). */
  get port(): number {
    return this.boundPort;
  }

  /** Where clients connect, e.g. http://127.0.0.1:41234. */
  get url(): string {
    return `http://${hostForUrl(this.table.route.listen.host)}:${this.port}`;
  }

  /** The route in force. */
  get route(): LocalRoute {
    return this.table.route;
  }

  /**
   * Applies a new split to the requests that arrive from now on; requests in flight finish on
   * the backend they started on. Throws InvalidRouteError (and keeps the current route) when
   * the route is invalid or names another service or listen address.
   */
  configure(route: LocalRoute): void {
    if (this.closing !== undefined) {
      throw new VireoError('E_ROUTER_CLOSED', `the router of ${this.describe()} is closed: start a new one`);
    }
    const table = compileRoute(route);
    const current = this.table.route;
    if (route.namespace !== current.namespace || route.service !== current.service) {
      throw new InvalidRouteError(
        'route.service',
        `this router serves ${this.describe()}, not ${route.namespace}/${route.service}: start another router`,
      );
    }
    if (
      route.listen.host !== current.listen.host ||
      (route.listen.port !== 0 && route.listen.port !== this.port)
    ) {
      throw new InvalidRouteError(
        'route.listen',
        `cannot change on a running router (${this.url}): close it and start a new one`,
      );
    }
    this.table = table;
    this.logger.debug(
      { canaryWeight: route.canaryWeight, mirror: route.mirror, match: route.match.length },
      'route configured',
    );
  }

  /**
   * Stops accepting connections, lets requests in flight finish (at most drainTimeoutMs), then
   * closes every connection, upstream ones included. Idempotent: later calls return the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    // node:http's close() clears its connection checks; it never listened, so its callback is moot.
    this.server.close();
    this.closeIdle();
    const deadline = setTimeout(() => {
      this.server.closeAllConnections();
      for (const connection of this.fastConnections) connection.socket.destroy();
    }, this.drainTimeoutMs);
    deadline.unref();
    await closed;
    clearTimeout(deadline);
    this.agent.destroy();
    await this.dispatcher.destroy();
    await this.upstreamClient.destroy();
    this.logger.info('router closed');
  }

  /** While closing: ends every connection with no answer pending, on both lanes. */
  private closeIdle(): void {
    this.server.closeIdleConnections();
    for (const connection of this.fastConnections) connection.closeIfIdle();
  }

  private describe(): string {
    return `${this.table.route.namespace}/${this.table.route.service}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const started = this.now();
    const table = this.table;
    let decision: RoutingDecision;
    try {
      decision = decide(table, { headers: req.headers, url: req.url ?? '/' }, this.random);
    } catch (cause) {
      this.logger.error({ err: cause }, 'routing failed');
      res
        .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
        .end('vireo router: routing failed\n');
      return;
    }
    const exchange: Exchange = { router: this, req, res, table, decision, started };
    // One listener function for every request (no closure per request): it finds the exchange on res.
    (res as AnsweringResponse)[EXCHANGE] = exchange;
    res.on('close', onAnswerClosed);
    req.on('error', ignore); // a client that hangs up mid-upload: res 'close' cleans up
    if (this.closing !== undefined) res.setHeader('connection', 'close');

    const arm = decision.arm;
    const replicas = (arm === 'canary' ? table.canary : table.primary).order();
    if (replicas.length === 0) {
      this.answer(exchange, 503, `vireo router: no ${arm} replica for ${this.describe()}\n`);
      return;
    }
    if (decision.mirror) {
      exchange.mirror = this.startMirror(table, req.method ?? 'GET', req.url ?? '/', forwardedHeaders(req));
    }
    if (!hasBody(req)) {
      exchange.mirror?.end();
      this.forwardBodiless(exchange, replicas, 0, false);
      return;
    }
    this.forward(exchange, replicas, 0, false);
  }

  /** Sends the request to replicas[index]; refused connections move on to the next replica. */
  private forward(exchange: Exchange, replicas: readonly URL[], index: number, retried: boolean): void {
    const { req } = exchange;
    const target = replicas[index]!;
    let upstream: ClientRequest;
    try {
      upstream = httpRequest({
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: forwardedHeaders(req),
        agent: this.agent,
      });
    } catch (cause) {
      // node:http refused to build the request (a method or path it will not send).
      exchange.mirror?.cancel();
      this.answer(exchange, 502, `vireo router: cannot forward this request: ${describe(cause)}\n`);
      return;
    }
    exchange.upstream = upstream;
    let bodyStarted = false;
    upstream.once('socket', (socket) => {
      const start = (): void => {
        bodyStarted = true;
        pumpBody(req, upstream, exchange.mirror);
      };
      if (socket.connecting) socket.once('connect', start);
      else start();
    });
    upstream.on('response', (response) => this.relay(exchange, response));
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (exchange.upstream !== upstream || exchange.res.headersSent || exchange.res.destroyed) return;
      const code = error.code ?? error.message;
      if (!bodyStarted && CONNECT_FAILURES.has(code) && index + 1 < replicas.length) {
        this.logger.debug({ replica: target.host, code }, 'replica refused the connection, trying the next');
        this.forward(exchange, replicas, index + 1, retried);
        return;
      }
      if (!retried && upstream.reusedSocket && isStaleSocket(code) && !hasBody(req)) {
        // The upstream closed an idle pooled connection as we reused it; nothing was consumed.
        this.forward(exchange, replicas, index, true);
        return;
      }
      exchange.mirror?.cancel();
      this.logger.debug({ replica: target.host, code }, 'upstream failed');
      this.answer(
        exchange,
        502,
        `vireo router: ${exchange.decision.arm} replica ${target.host} failed: ${code}\n`,
      );
    });
  }

  /**
   * Sends a request without a body through the undici pool (the fast path, see the file's
   * comment). Nothing of the client's is consumed before the upstream answers, so a refused
   * connection moves on to the next replica, and a pooled connection the upstream had closed is
   * retried once for idempotent methods.
   */
  forwardBodiless(exchange: Exchange, replicas: readonly URL[], index: number, retried: boolean): void {
    const { req } = exchange;
    const target = replicas[index]!;
    this.dispatcher.dispatch(
      {
        origin: target.origin,
        path: req.url ?? '/',
        method: req.method as Dispatcher.HttpMethod,
        headers: forwardedHeaders(req) as Record<string, string | string[]>,
        body: null,
      },
      new BodilessForward(this, exchange, replicas, index, retried),
    );
  }

  /** An upstream failed before answering: try the next replica or answer 502 (see forward). */
  upstreamFailed(exchange: Exchange, target: URL, code: string): void {
    exchange.mirror?.cancel();
    this.logger.debug({ replica: target.host, code }, 'upstream failed');
    this.answer(
      exchange,
      502,
      `vireo router: ${exchange.decision.arm} replica ${target.host} failed: ${code}\n`,
    );
  }

  /** Streams the upstream's answer to the client, adding the backend header and cookies. */
  private relay(exchange: Exchange, response: IncomingMessage): void {
    const { res, decision } = exchange;
    exchange.upstreamResponse = response;
    response.on('error', () => {
      // The upstream hung up mid-answer: the client's answer is cut short too.
      exchange.status = 502;
      res.destroy();
    });
    if (res.destroyed) {
      response.destroy();
      return;
    }
    try {
      res.writeHead(
        response.statusCode ?? 502,
        response.statusMessage,
        answerHeaders(response.headers, decision),
      );
    } catch (cause) {
      response.destroy();
      this.answer(exchange, 502, `vireo router: the upstream answer cannot be relayed: ${describe(cause)}\n`);
      return;
    }
    exchange.status = res.statusCode;
    response.pipe(res);
  }

  /** Answers from the router itself (502, 503). */
  answer(exchange: Exchange, status: number, text: string): void {
    const { res, decision } = exchange;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    exchange.status = status;
    res
      .writeHead(status, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(text),
        [BACKEND_HEADER]: decision.arm,
      })
      .end(text);
  }

  /** The client's answer is over (sent, or the client left): record it and clean up. */
  finish(exchange: Exchange): void {
    const { res, table } = exchange;
    if (!res.writableFinished) {
      exchange.upstream?.destroy();
      exchange.abortUpstream?.(new Error('client left'));
      exchange.upstreamResponse?.destroy();
      if (exchange.mirror?.bodyComplete !== true) exchange.mirror?.cancel();
    }
    this.recordAnswer(
      table,
      exchange.decision.arm,
      exchange.status ?? CLIENT_CLOSED_STATUS,
      exchange.started,
    );
    if (this.closing !== undefined) setImmediate(() => this.closeIdle());
  }

  /**
   * Counts one answer (or copy) of `arm`, started under `table`. When that arm's replicas were
   * replaced while it ran (a new revision, or the old one scaled down), the answer came from a
   * revision no longer under analysis: it is exported but left out of the checks' windows.
   */
  private recordAnswer(
    table: RoutingTable,
    arm: Arm,
    status: number,
    started: number,
    mirrored = false,
  ): void {
    const current = this.table;
    this.recorder.record({
      namespace: table.route.namespace,
      service: table.route.service,
      backend: arm,
      status,
      durationSeconds: (this.now() - started) / 1000,
      ...(mirrored ? { mirrored: true } : {}),
      ...(table !== current && !sameReplicas(table[arm], current[arm]) ? { retiredReplicas: true } : {}),
    });
  }

  private startMirror(
    table: RoutingTable,
    method: string,
    path: string,
    headers: OutgoingHttpHeaders,
  ): MirrorCopy | undefined {
    const replica = table.canary.order()[0];
    if (replica === undefined) return undefined;
    const started = this.now();
    let request: ClientRequest;
    try {
      request = httpRequest({
        host: replica.hostname,
        port: replica.port,
        method,
        path,
        headers: { ...headers, [MIRROR_HEADER]: '1' },
        agent: this.agent,
      });
    } catch {
      return undefined; // the client's own request fails the same way and is answered 502
    }
    return new MirrorCopy(request, this.mirrorTimeoutMs, (status) =>
      this.recordAnswer(table, 'canary', status, started, true),
    );
  }
}

/**
 * One bodiless request's trip through the undici pool, as undici's dispatch handler: the answer's
 * head and body go straight to the client's ServerResponse, with backpressure (onData returning
 * false pauses the upstream until the client drains).
 */
class BodilessForward implements Dispatcher.DispatchHandler {
  private answered = false;
  private resumeUpstream: (() => void) | undefined;
  private bodyStarted = false;
  private held: Buffer | undefined;

  constructor(
    private readonly router: ProxyRouter,
    private readonly exchange: Exchange,
    private readonly replicas: readonly URL[],
    private readonly index: number,
    private readonly retried: boolean,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    if (this.exchange.res.destroyed) {
      abort(new Error('the client left'));
      return;
    }
    this.exchange.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    const { exchange } = this;
    const { res } = exchange;
    if (statusCode < 200) return true; // 1xx: not relayed (docs/local/router.md "Limits")
    if (res.destroyed) return false;
    try {
      res.writeHead(statusCode, statusText, answerHeaderList(rawHeaders, exchange.decision));
    } catch (cause) {
      // The 502 goes out first: the abort's onError then finds the answer started and leaves it.
      this.router.answer(
        exchange,
        502,
        `vireo router: the upstream answer cannot be relayed: ${describe(cause)}\n`,
      );
      exchange.abortUpstream?.(new Error('answer not relayable'));
      return false;
    }
    this.answered = true;
    exchange.status = statusCode;
    this.resumeUpstream = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    const { res } = this.exchange;
    if (!this.bodyStarted) {
      // Hold the first chunk until the end of this read: when the whole answer came in it (the
      // usual small answer), onComplete sends head and body in one write instead of two.
      this.bodyStarted = true;
      this.held = chunk;
      queueMicrotask(() => this.releaseHeld());
      return true;
    }
    this.releaseHeld();
    if (res.write(chunk)) return true;
    if (this.resumeUpstream !== undefined) res.once('drain', this.resumeUpstream);
    return false;
  }

  onComplete(): void {
    const { exchange } = this;
    exchange.abortUpstream = undefined;
    const held = this.held;
    this.held = undefined;
    if (held === undefined) exchange.res.end();
    // latin1 maps bytes to characters one to one, so the body is sent unchanged; node joins a
    // string body to the pending head in a single write.
    else if (held.length <= ONE_WRITE_LIMIT_BYTES) exchange.res.end(held.toString('latin1'), 'latin1');
    else exchange.res.end(held);
  }

  /** The answer goes on beyond the first read: send the held chunk now, in order. */
  private releaseHeld(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    if (!this.exchange.res.destroyed) this.exchange.res.write(held);
  }

  onError(error: NodeJS.ErrnoException): void {
    const { exchange, router, replicas, index } = this;
    exchange.abortUpstream = undefined;
    const { res } = exchange;
    if (this.answered) {
      // The upstream hung up mid-answer: the client's answer is cut short too.
      exchange.status = 502;
      res.destroy();
      return;
    }
    if (res.headersSent || res.destroyed) return;
    const code = error.code ?? error.message;
    if (CONNECT_FAILURES.has(code) && index + 1 < replicas.length) {
      router.forwardBodiless(exchange, replicas, index + 1, this.retried);
      return;
    }
    if (!this.retried && isStaleSocket(code) && IDEMPOTENT_METHODS.has(exchange.req.method ?? '')) {
      // The upstream closed a pooled connection as we reused it, before answering.
      router.forwardBodiless(exchange, replicas, index, true);
      return;
    }
    router.upstreamFailed(exchange, replicas[index]!, code);
  }
}

/**
 * A copy of one request sent to the canary. It never slows or fails the client's request: it
 * takes the body as the primary reads it, and is abandoned (counted as a 502) when it falls
 * too far behind, errs or times out. `cancel` abandons it without counting (the client's own
 * request failed, so the copy is not the canary's fault).
 */
class MirrorCopy {
  bodyComplete = false;
  private settled = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly request: ClientRequest,
    timeoutMs: number,
    private readonly onSettled: (status: number) => void,
  ) {
    this.timer = setTimeout(() => this.fail(), timeoutMs);
    this.timer.unref();
    request.on('error', () => this.fail());
    request.on('response', (response) => {
      response.on('error', () => this.fail());
      response.on('end', () => this.settle(response.statusCode ?? 502));
      response.resume();
    });
  }

  write(chunk: Buffer): void {
    if (this.settled) return;
    if (this.request.writableLength > MIRROR_BACKLOG_LIMIT_BYTES) {
      this.fail();
      return;
    }
    this.request.write(chunk);
  }

  end(): void {
    if (this.bodyComplete) return;
    this.bodyComplete = true;
    if (!this.settled) this.request.end();
  }

  cancel(): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.request.destroy();
  }

  private fail(): void {
    if (this.settled) return;
    this.settle(502);
    this.request.destroy();
  }

  private settle(status: number): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.onSettled(status);
  }
}

/**
 * Moves the client's body to the upstream at the upstream's pace (backpressure), handing each
 * chunk to the mirror copy too. Nothing is buffered beyond the streams' own high-water marks.
 */
function pumpBody(req: IncomingMessage, upstream: ClientRequest, mirror: MirrorCopy | undefined): void {
  if (req.readableEnded) {
    upstream.end();
    return;
  }
  let waiting = false;
  req.on('data', (chunk: Buffer) => {
    mirror?.write(chunk);
    if (!upstream.write(chunk) && !waiting) {
      waiting = true;
      req.pause();
      upstream.once('drain', () => {
        waiting = false;
        req.resume();
      });
    }
  });
  req.once('end', () => {
    upstream.end();
    mirror?.end();
  });
}

function forwardedHeaders(req: IncomingMessage): OutgoingHttpHeaders {
  const headers = withoutHopByHop(req.headers);
  // The server side already answered `100 Continue`; the upstream must not wait for another.
  delete headers.expect;
  const client = req.socket.remoteAddress;
  const prior = headerText(req.headers['x-forwarded-for']);
  if (client !== undefined) headers['x-forwarded-for'] = prior === undefined ? client : `${prior}, ${client}`;
  headers['x-forwarded-proto'] ??= 'http';
  if (req.headers.host !== undefined) headers['x-forwarded-host'] ??= req.headers.host;
  if (req.headers['transfer-encoding'] !== undefined) {
    // The body's length is unknown: frame it in chunks to the upstream as well.
    delete headers['content-length'];
    headers['transfer-encoding'] = 'chunked';
  }
  return headers;
}

function answerHeaders(upstream: IncomingHttpHeaders, decision: RoutingDecision): OutgoingHttpHeaders {
  const headers = withoutHopByHop(upstream);
  headers[BACKEND_HEADER] = decision.arm satisfies Arm;
  if (decision.setCookies.length > 0) {
    headers['set-cookie'] = [...(upstream['set-cookie'] ?? []), ...decision.setCookies];
  }
  return headers;
}

/**
 * The upstream's raw answer head as writeHead's flat [name, value, …] list: names lowercased (as
 * node's own parser gives them), repeated fields kept apart, hop-by-hop ones dropped (those the
 * Connection header names too), then the backend header and the routing decision's cookies.
 */
function answerHeaderList(raw: readonly (Buffer | string)[], decision: RoutingDecision): string[] {
  const list: string[] = [];
  let named: string[] | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    if (name === 'connection') {
      // Nearly every upstream says just `keep-alive` or `close`, both hop-by-hop already.
      if (!ONLY_HOP_BY_HOP_TOKEN.test(value)) named = (named ?? []).concat(connectionTokens(value));
    } else if (!HOP_BY_HOP.has(name)) {
      list.push(name, value);
    }
  }
  const headers = named === undefined ? list : list.filter((_, i) => !named.includes(list[i - (i % 2)]!));
  headers.push(BACKEND_HEADER, decision.arm);
  for (const cookie of decision.setCookies) headers.push('set-cookie', cookie);
  return headers;
}

/** A copy of the headers without hop-by-hop ones, nor those the Connection header names. */
function withoutHopByHop(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const connection = headerText(headers.connection);
  const named = connection === undefined ? undefined : connectionTokens(connection);
  const copy: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named?.includes(name) === true) continue;
    copy[name] = value;
  }
  return copy;
}

/** `keep-alive, X-Trace` → ['keep-alive', 'x-trace']. */

const ignore = (): void => undefined;

/** Where a ServerResponse keeps its exchange for onAnswerClosed. */
const EXCHANGE = Symbol('vireo.exchange');

interface AnsweringResponse extends ServerResponse {
  [EXCHANGE]?: Exchange;
}

/** A ServerResponse's 'close' listener, shared by every request. */
function onAnswerClosed(this: AnsweringResponse): void {
  const exchange = this[EXCHANGE];
  if (exchange === undefined) return;
  this[EXCHANGE] = undefined;
  exchange.router.finish(exchange);
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

const isStaleSocket = (code: string): boolean =>
  code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET';

/** RFC 9110 §9.2.2: safe to send again when the first attempt may have reached the upstream. */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
