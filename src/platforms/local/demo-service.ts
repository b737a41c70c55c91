/**
 * The demo web service of local mode, in the spirit of podinfo: a small HTTP server whose version,
 * error rate and latency are set by configuration, so `vireo demo` can release a healthy V1, a
 * faulty V2 (30% HTTP 500s, slow answers) and a healthy V3 of the same program.
 *
 * Endpoints: `GET /` (the "application": version, message, hostname, pid; the only endpoint that
 * injected errors and latency apply to), `/healthz`, `/readyz`, `/metrics`, `/version`,
 * `/status/{code}` and `/delay/{seconds}`. Every answer carries `x-version`.
 *
 * Built on node:http rather than fastify: it starts in a few milliseconds, which matters when the
 * supervisor starts and rolls many replicas, and it has nothing to configure.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { parseGoDuration } from '../../api/duration.js';
import { VireoError } from '../../shared/errors.js';

export interface DemoServiceConfig {
  /** 0 picks a free port (read it back from `DemoService.port`). */
  readonly port: number;
  readonly host: string;
  /** Sent in every answer (`x-version` header) and in the JSON of `/` and `/version`. */
  readonly version: string;
  readonly message: string;
  /** 0–1: the share of `GET /` answered with HTTP 500. */
  readonly errorRate: number;
  /** Added to every `GET /`, milliseconds. */
  readonly latencyMs: number;
  /** A uniform random extra in [0, jitter) on top of `latencyMs`, so latency is a minimum. */
  readonly latencyJitterMs: number;
  /** Makes the error pattern (and jitter) reproducible: the same seed gives the same sequence. */
  readonly seed?: number | undefined;
  /** `/readyz` answers 503 until this long after the server listens. */
  readonly readyDelayMs: number;
}

export const DEFAULT_DEMO_SERVICE_CONFIG: DemoServiceConfig = {
  port: 0,
  host: '127.0.0.1',
  version: '1.0.0',
  message: 'greetings from the Vireo demo service',
  errorRate: 0,
  latencyMs: 0,
  latencyJitterMs: 0,
  readyDelayMs: 0,
};

/** `/delay/{seconds}` waits at most this long, so a typo cannot hold a connection for hours. */
export const MAX_DELAY_SECONDS = 30;
/** After this long a graceful close stops waiting for in-flight requests and cuts connections. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = (MAX_DELAY_SECONDS + 5) * 1000;

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** A configuration value the service cannot run with; `variable` names it (env name or option). */
export class DemoServiceConfigError extends VireoError {
  readonly variable: string;

  constructor(variable: string, message: string) {
    super('E_DEMO_SERVICE_CONFIG', message);
    this.variable = variable;
  }
}

/** Reads the configuration from environment variables; an empty variable counts as unset. */
export function parseDemoServiceConfig(env: Readonly<Record<string, string | undefined>>): DemoServiceConfig {
  const read = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const defaults = DEFAULT_DEMO_SERVICE_CONFIG;
  const port = read('PORT');
  const errorRate = read('ERROR_RATE');
  const latency = read('LATENCY');
  const jitter = read('LATENCY_JITTER');
  const seed = read('SEED');
  const readyDelay = read('READY_DELAY');
  return {
    port: port === undefined ? defaults.port : parsePort('PORT', port),
    host: read('HOST') ?? defaults.host,
    version: read('VERSION') ?? defaults.version,
    message: read('MESSAGE') ?? defaults.message,
    errorRate: errorRate === undefined ? defaults.errorRate : parseRate('ERROR_RATE', errorRate),
    latencyMs: latency === undefined ? defaults.latencyMs : parseDuration('LATENCY', latency),
    latencyJitterMs:
      jitter === undefined ? defaults.latencyJitterMs : parseDuration('LATENCY_JITTER', jitter),
    seed: seed === undefined ? undefined : parseSeed('SEED', seed),
    readyDelayMs: readyDelay === undefined ? defaults.readyDelayMs : parseDuration('READY_DELAY', readyDelay),
  };
}

function parsePort(variable: string, text: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(port) || port > 65_535) {
    throw new DemoServiceConfigError(
      variable,
      `${variable} must be a port number from 0 to 65535 (0 picks a free port), got "${text}"`,
    );
  }
  return port;
}

function parseRate(variable: string, text: string): number {
  const rate = /^[0-9.]+$/.test(text) ? Number(text) : Number.NaN;
  if (!(rate >= 0 && rate <= 1)) {
    throw new DemoServiceConfigError(
      variable,
      `${variable} must be a number from 0 to 1 (0.3 answers 30% of requests with HTTP 500), got "${text}"`,
    );
  }
  return rate;
}

function parseDuration(variable: string, text: string): number {
  const milliseconds = parseGoDuration(text);
  if (milliseconds === undefined || milliseconds < 0) {
    throw new DemoServiceConfigError(
      variable,
      `${variable} must be a duration such as 50ms, 1.5s or 0, got "${text}"`,
    );
  }
  return milliseconds;
}

function parseSeed(variable: string, text: string): number {
  const seed = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(seed) || seed > 0xffff_ffff) {
    throw new DemoServiceConfigError(
      variable,
      `${variable} must be a whole number from 0 to 4294967295, got "${text}"`,
    );
  }
  return seed;
}

/** Checks options given in-process, naming the option in the error. */
function validateConfig(config: DemoServiceConfig): DemoServiceConfig {
  const check = (ok: boolean, variable: string, rule: string, value: unknown): void => {
    if (!ok)
      throw new DemoServiceConfigError(variable, `${variable} must be ${rule}, got ${JSON.stringify(value)}`);
  };
  check(
    Number.isInteger(config.port) && config.port >= 0 && config.port <= 65_535,
    'port',
    'a port number from 0 to 65535',
    config.port,
  );
  check(config.host !== '', 'host', 'a host name or address', config.host);
  check(
    config.errorRate >= 0 && config.errorRate <= 1,
    'errorRate',
    'a number from 0 to 1',
    config.errorRate,
  );
  check(
    config.latencyMs >= 0 && Number.isFinite(config.latencyMs),
    'latencyMs',
    'zero or more',
    config.latencyMs,
  );
  check(
    config.latencyJitterMs >= 0 && Number.isFinite(config.latencyJitterMs),
    'latencyJitterMs',
    'zero or more',
    config.latencyJitterMs,
  );
  check(
    config.readyDelayMs >= 0 && Number.isFinite(config.readyDelayMs),
    'readyDelayMs',
    'zero or more',
    config.readyDelayMs,
  );
  check(
    config.seed === undefined ||
      (Number.isSafeInteger(config.seed) && config.seed >= 0 && config.seed <= 0xffff_ffff),
    'seed',
    'a whole number from 0 to 4294967295',
    config.seed,
  );
  return config;
}

/**
 * A small, fast PRNG (mulberry32) returning numbers in [0, 1). Its only job is a reproducible
 * fault pattern for a given seed; it is not for anything secret.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The jitter stream is seeded apart from the error stream, so latency never shifts the error pattern. */
const JITTER_SEED_OFFSET = 0x9e37_79b9;

export interface DemoServiceOptions extends Partial<DemoServiceConfig> {
  /** Where the request metrics are registered (default: a fresh Registry of this instance). */
  readonly registry?: Registry;
  /** Reported by `GET /` (default: the machine's host name and this process's pid). */
  readonly hostname?: string;
  readonly pid?: number;
  /** Random numbers in [0, 1) for errors and jitter; overrides `seed`. */
  readonly random?: () => number;
  /** How long `close()` waits for in-flight requests before cutting connections. */
  readonly shutdownTimeoutMs?: number;
  /** Cap of `/delay/{seconds}` (default MAX_DELAY_SECONDS); tests lower it. */
  readonly maxDelaySeconds?: number;
}

export interface DemoService {
  /** `http://<host>:<port>` as clients reach it. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly config: DemoServiceConfig;
  readonly registry: Registry;
  /** True once READY_DELAY has passed, false again while closing. */
  isReady(): boolean;
  /**
   * Graceful shutdown: stops accepting connections, answers in-flight requests (with
   * `Connection: close`), then resolves. Idempotent: later calls return the same promise.
   */
  close(): Promise<void>;
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
}

interface Route {
  /** The metrics label: the route's template, never the raw path (bounded cardinality). */
  readonly template: string;
  readonly handle: () => Promise<Answer> | Answer;
}

const json = (status: number, value: unknown): Answer => ({
  status,
  body: `${JSON.stringify(value)}\n`,
  contentType: 'application/json; charset=utf-8',
});

/** Starts the service and resolves once it listens. Throws DemoServiceConfigError for bad options. */
export async function startDemoService(options: DemoServiceOptions = {}): Promise<DemoService> {
  const config = validateConfig({ ...DEFAULT_DEMO_SERVICE_CONFIG, ...definedOnly(options) });
  const registry = options.registry ?? new Registry();
  const metrics = createMetrics(registry, config.version);
  const errorRandom = options.random ?? (config.seed === undefined ? Math.random : seededRandom(config.seed));
  const jitterRandom =
    options.random ??
    (config.seed === undefined ? Math.random : seededRandom(config.seed ^ JITTER_SEED_OFFSET));
  const maxDelaySeconds = options.maxDelaySeconds ?? MAX_DELAY_SECONDS;
  const identity = { hostname: options.hostname ?? osHostname(), pid: options.pid ?? process.pid };

  let ready = false;
  let closing: Promise<void> | undefined;
  let readyTimer: NodeJS.Timeout | undefined;

  const application = async (): Promise<Answer> => {
    const extra = config.latencyJitterMs > 0 ? jitterRandom() * config.latencyJitterMs : 0;
    const wait = config.latencyMs + extra;
    if (wait > 0) await sleep(wait);
    if (config.errorRate > 0 && errorRandom() < config.errorRate) {
      return json(500, { error: 'injected failure', errorRate: config.errorRate, version: config.version });
    }
    return json(200, { version: config.version, message: config.message, ...identity });
  };

  const route = (path: string): Route => {
    switch (path) {
      case '/':
        return { template: '/', handle: application };
      case '/healthz':
        return { template: '/healthz', handle: () => json(200, { status: 'ok' }) };
      case '/readyz':
        return {
          template: '/readyz',
          handle: () =>
            ready ? json(200, { status: 'ok' }) : json(503, { status: closing ? 'stopping' : 'starting' }),
        };
      case '/version':
        return { template: '/version', handle: () => json(200, { version: config.version }) };
      case '/metrics':
        return {
          template: '/metrics',
          handle: async () => ({
            status: 200,
            body: await registry.metrics(),
            contentType: registry.contentType,
          }),
        };
    }
    const status = /^\/status\/([^/]*)$/.exec(path);
    if (status) return { template: '/status/{code}', handle: () => statusAnswer(status[1] ?? '') };
    const delay = /^\/delay\/([^/]*)$/.exec(path);
    if (delay)
      return { template: '/delay/{seconds}', handle: () => delayAnswer(delay[1] ?? '', maxDelaySeconds) };
    return { template: 'unmatched', handle: () => json(404, { error: 'not found' }) };
  };

  const server = createServer((request, response) => {
    void serve(request, response);
  });

  const serve = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const started = performance.now();
    const method = KNOWN_METHODS.has(request.method ?? '') ? (request.method as string) : 'other';
    const path = pathOf(request.url);
    const matched = route(path);
    let answer: Answer;
    if (method !== 'GET' && method !== 'HEAD') {
      answer = json(405, { error: 'method not allowed: use GET or HEAD' });
      response.setHeader('allow', 'GET, HEAD');
    } else {
      try {
        answer = await matched.handle();
      } catch (cause) {
        answer = json(500, { error: `internal error: ${(cause as Error).message}` });
      }
    }
    response.on('finish', () => {
      const labels = { method, path: matched.template, status: String(answer.status) };
      metrics.requests.inc(labels);
      metrics.duration.observe(labels, (performance.now() - started) / 1000);
    });
    response.setHeader('x-version', config.version);
    response.setHeader('content-type', answer.contentType);
    response.setHeader('content-length', Buffer.byteLength(answer.body));
    // Closing: tell keep-alive clients to reconnect (to another replica) after this answer.
    if (closing !== undefined) response.setHeader('connection', 'close');
    response.writeHead(answer.status);
    response.end(answer.body);
  };

  await listen(server, config.port, config.host);
  const port = (server.address() as AddressInfo).port;
  if (config.readyDelayMs > 0) {
    readyTimer = setTimeout(() => {
      ready = closing === undefined;
    }, config.readyDelayMs);
  } else {
    ready = true;
  }

  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ready = false;
      clearTimeout(readyTimer);
      const cut = setTimeout(() => server.closeAllConnections(), shutdownTimeoutMs);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      clearTimeout(cut);
    })();
    return closing;
  };

  return {
    url: `http://${formatHost(config.host)}:${port}`,
    host: config.host,
    port,
    config: { ...config, port },
    registry,
    isReady: () => ready,
    close,
  };
}

function statusAnswer(text: string): Answer {
  const code = /^\d{3}$/.test(text) ? Number(text) : Number.NaN;
  // 1xx are interim answers: a client would keep waiting for the final one, so they cannot be sent alone.
  if (!(code >= 200 && code <= 599)) {
    return json(400, { error: `status code must be a number from 200 to 599, got "${text}"` });
  }
  return json(code, { status: code });
}

async function delayAnswer(text: string, maxSeconds: number): Promise<Answer> {
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(seconds)) {
    return json(400, { error: `delay must be a number of seconds such as 1 or 0.5, got "${text}"` });
  }
  const waited = Math.min(seconds, maxSeconds);
  if (waited > 0) await sleep(waited * 1000);
  return json(200, { delay: waited });
}

function createMetrics(registry: Registry, version: string) {
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route template and status',
    labelNames: ['method', 'path', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by method, route template and status',
    labelNames: ['method', 'path', 'status'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: 'demo_service_info',
    help: 'Always 1; the version label says which version of the demo service runs',
    labelNames: ['version'],
    registers: [registry],
  }).set({ version }, 1);
  return { requests, duration };
}

function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return '/';
  }
}

const formatHost = (host: string): string => (host.includes(':') ? `[${host}]` : host);

function definedOnly(options: DemoServiceOptions): Partial<DemoServiceConfig> {
  const config: Partial<Record<keyof DemoServiceConfig, unknown>> = {};
  for (const key of Object.keys(DEFAULT_DEMO_SERVICE_CONFIG).concat('seed') as (keyof DemoServiceConfig)[]) {
    if (options[key] !== undefined) config[key] = options[key];
  }
  return config as Partial<DemoServiceConfig>;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const reason = error.code === 'EADDRINUSE' ? 'the address is already in use' : error.message;
      reject(
        new VireoError(
          'E_DEMO_SERVICE_LISTEN',
          `cannot listen on ${host}:${port}: ${reason}; choose another PORT (0 picks a free one)`,
          {
            cause: error,
          },
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
