/**
 * The loadtester's HTTP API, compatible with flagger-loadtester's (docs/loadtester.md): `POST /` runs a
 * task, `/gate/*` and `/rollback/*` are manual gates, `/healthz` and `/metrics`. Unlike it, every
 * request is checked first: an optional bearer token, a body size limit, a payload schema, the
 * namespace, and the command policy; every refusal is a 4xx with a one-line reason.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';
import type { WebhookPayload } from '../engine/ports.js';
import type { Logger } from '../shared/logger.js';
import { createSystemClock, type Clock } from './clock.js';
import {
  InvalidTaskError,
  LoadtesterRejection,
  NamespaceForbiddenError,
  RequestFromBrowserError,
} from './errors.js';
import { gateKey, GateStore, rollbackKey } from './gates.js';
import { createNamespaceFilter } from './namespace-filter.js';
import { defaultSettings, isLoopbackHost, type LoadtesterSettings } from './options.js';
import { redactText } from './redact.js';
import { SpawnProcessRunner, type ProcessRunner } from './runner.js';
import { TaskRegistry } from './tasks.js';
import { TaskService, type TaskOutcome } from './tasks-service.js';

export interface BuildLoadtesterOptions {
  /** Settings; anything left out takes the documented default. */
  readonly settings?: Partial<LoadtesterSettings>;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly runner?: ProcessRunner;
}

const PAYLOAD_SCHEMA = {
  type: 'object',
  required: ['name', 'namespace'],
  properties: {
    // Kubernetes names (a canary and its namespace): gate keys and logs stay short and plain.
    name: { type: 'string', maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' },
    namespace: { type: 'string', maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
    phase: { type: 'string' },
    checksum: { type: 'string' },
    metadata: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
  },
} as const;

interface AjvError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly message?: string;
  readonly params: Record<string, unknown>;
}

/** "metadata.qps must be a string": the field a person has to fix, in one line. */
function describeValidation(errors: readonly AjvError[]): string {
  const [first] = errors;
  if (first === undefined) return 'invalid payload';
  const path = first.instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.');
  if (first.keyword === 'required') {
    const missing = String(first.params['missingProperty']);
    return `invalid payload: ${path === '' ? missing : `${path}.${missing}`} is required`;
  }
  if (first.keyword === 'type') {
    const article = (type: string): string =>
      type === 'null' ? 'null' : `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
    const expected = String(first.params['type']).split(',').map(article).join(' or ');
    return `invalid payload: ${path === '' ? 'the body' : path} must be ${expected}`;
  }
  if (first.keyword === 'pattern' || first.keyword === 'maxLength') {
    const limit = path === 'namespace' ? 63 : 253;
    return `invalid payload: ${path} must be a Kubernetes name (lower-case letters, digits and -, at most ${limit} characters)`;
  }
  return `invalid payload: ${path === '' ? 'the body' : path} ${first.message ?? 'is invalid'}`;
}

/** A digest comparison takes the same time whatever the token's length or content. */
function bearerChecker(token: string): (header: string | undefined) => boolean {
  const expected = createHash('sha256').update(token).digest();
  return (header) => {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
    const presented = createHash('sha256')
      .update(match?.[1] ?? '')
      .digest();
    return timingSafeEqual(expected, presented) && match !== null;
  };
}

function send(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).type('text/plain; charset=utf-8').send(body);
}

export async function buildLoadtester(options: BuildLoadtesterOptions): Promise<FastifyInstance> {
  const settings = defaultSettings(options.settings);
  const { logger } = options;
  const clock = options.clock ?? createSystemClock();
  const runner = options.runner ?? new SpawnProcessRunner({ clock });
  const gates = await GateStore.load(settings.stateFile, logger);
  const tasks = new TaskRegistry(settings.maxConcurrent);

  const metrics = new Registry();
  const taskCounter = new Counter({
    name: 'vireo_loadtester_tasks_total',
    help: 'Tasks by type and outcome (started, skipped, succeeded, failed)',
    labelNames: ['type', 'outcome'],
    registers: [metrics],
  });
  const rejections = new Counter({
    name: 'vireo_loadtester_rejections_total',
    help: 'Requests refused, by HTTP status',
    labelNames: ['status'],
    registers: [metrics],
  });
  new Gauge({
    name: 'vireo_loadtester_running_tasks',
    help: 'Tasks running now',
    registers: [metrics],
    collect() {
      this.set(tasks.size);
    },
  });

  const service = new TaskService({
    policy: settings.policy,
    targets: settings.targets,
    commandTimeoutMs: settings.commandTimeoutMs,
    tasks,
    runner,
    clock,
    logger,
    onOutcome: (type: string, outcome: TaskOutcome) => taskCounter.inc({ type, outcome }),
  });

  const app = Fastify({
    logger: false,
    bodyLimit: settings.bodyLimitBytes,
    // Metadata values must be strings, as Go's map[string]string: no silent coercion of 5 to "5".
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });

  // Flagger's loadtester reads every body as JSON whatever its Content-Type; so do we.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string) as unknown);
    } catch (cause) {
      done(new InvalidTaskError(`the body is not JSON: ${(cause as Error).message}`), undefined);
    }
  });

  // A web page can make a browser POST here (a "simple" request needs no preflight); browsers
  // always say where such a request comes from, Flagger, curl and vireo never do.
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.headers.origin !== undefined) {
      done(new RequestFromBrowserError());
      return;
    }
    // Without a token the server listens on loopback only; a Host that is not a loopback name is a
    // page whose DNS name was rebound to 127.0.0.1 (docs/loadtester.md, "Who can reach it").
    if (settings.token === undefined) {
      const host = (request.headers.host ?? '').replace(/:\d+$/, '');
      if (!isLoopbackHost(host)) {
        done(
          new LoadtesterRejection(
            'E_LOADTESTER_HOST_REFUSED',
            403,
            'without a token the loadtester answers only requests addressed to localhost or a loopback address',
          ),
        );
        return;
      }
    }
    done();
  });

  if (settings.token !== undefined) {
    const matches = bearerChecker(settings.token);
    app.addHook('onRequest', async (request, reply) => {
      const path = request.url.split('?', 1)[0];
      if (path === '/healthz' && (request.method === 'GET' || request.method === 'HEAD')) return;
      if (matches(request.headers.authorization)) return;
      rejections.inc({ status: '401' });
      logger.info({ method: request.method, path }, 'request refused: missing or wrong bearer token');
      await send(
        reply.header('www-authenticate', 'Bearer realm="vireo-loadtester"'),
        401,
        'unauthorized: send the header Authorization: Bearer <token>',
      );
    });
  }

  /** The status, one-line reason and code each error is answered with. */
  const classify = (error: FastifyError): { status: number; reason: string; code: string } => {
    if (error instanceof LoadtesterRejection) {
      return { status: error.statusCode, reason: redactText(error.message), code: error.code };
    }
    if (error.validation !== undefined) {
      return {
        status: 400,
        reason: describeValidation(error.validation),
        code: 'E_LOADTESTER_INVALID_PAYLOAD',
      };
    }
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return {
        status: 413,
        reason: `the body is larger than the ${settings.bodyLimitBytes}-byte limit`,
        code: 'E_LOADTESTER_BODY_TOO_LARGE',
      };
    }
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return {
        status: error.statusCode,
        reason: error.message.split('\n', 1)[0] ?? 'bad request',
        code: error.code ?? 'E_LOADTESTER_BAD_REQUEST',
      };
    }
    return {
      status: 500,
      reason: `internal error: ${error.message.split('\n', 1)[0]}`,
      code: 'E_LOADTESTER_INTERNAL',
    };
  };

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { status, reason, code } = classify(error);
    const path = request.url.split('?', 1)[0];
    if (status < 500 || error instanceof LoadtesterRejection) {
      rejections.inc({ status: String(status) });
      logger.info({ status, code, reason, path }, 'request refused');
    } else {
      logger.error({ err: error, path }, 'request failed');
    }
    return send(reply.header('x-vireo-error-code', code), status, reason);
  });

  app.setNotFoundHandler((request, reply) =>
    send(reply, 404, `not found: ${request.method} ${request.url.split('?', 1)[0]}`),
  );

  /** Flagger's authorizer: the payload's namespace must match --namespace-regexp. */
  const namespaceAllowed = createNamespaceFilter(settings.namespacePattern, logger);
  const authorize = (payload: WebhookPayload): void => {
    if (!namespaceAllowed(payload.namespace)) throw new NamespaceForbiddenError();
  };
  const payloadRoute = { schema: { body: PAYLOAD_SCHEMA } };

  app.get('/healthz', (_request, reply) => send(reply, 200, 'OK'));

  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.contentType).send(await metrics.metrics()),
  );

  app.post<{ Body: WebhookPayload }>('/', payloadRoute, async (request, reply) => {
    authorize(request.body);
    const answer = await service.handle(request.body);
    if (typeof answer.body === 'string') return send(reply, answer.status, answer.body);
    return reply.code(answer.status).type('application/json').send(answer.body);
  });

  // As Flagger: approve and halt answer without reading the payload (any body, even none) and
  // without the namespace authorizer; the token, when set, still applies.
  await app.register((scope, _options, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, _body, done) => done(null, undefined));
    scope.post('/gate/approve', (_request, reply) => send(reply, 200, 'approved'));
    scope.post('/gate/halt', (_request, reply) => send(reply, 403, 'halted'));
    done();
  });

  for (const [prefix, keyOf, what] of [
    ['/gate', gateKey, 'gate'],
    ['/rollback', rollbackKey, 'rollback gate'],
  ] as const) {
    app.post<{ Body: WebhookPayload }>(`${prefix}/check`, payloadRoute, (request, reply) => {
      authorize(request.body);
      const key = keyOf(request.body.name, request.body.namespace);
      const open = gates.isOpen(key);
      logger.debug({ gate: key, open }, `${what} checked`);
      return open ? send(reply, 200, 'approved') : send(reply, 403, 'closed');
    });
    for (const [action, open] of [
      ['open', true],
      ['close', false],
    ] as const) {
      app.post<{ Body: WebhookPayload }>(`${prefix}/${action}`, payloadRoute, async (request, reply) => {
        authorize(request.body);
        const key = keyOf(request.body.name, request.body.namespace);
        await gates.setOpen(key, open);
        logger.info({ gate: key }, `${what} ${open ? 'opened' : 'closed'}`);
        return send(reply, 202, `${what} ${key} ${open ? 'opened' : 'closed'}`);
      });
    }
  }

  // Before the server stops taking requests: end running tasks, so that requests waiting on a
  // blocking task get their answer instead of holding the close for up to --timeout.
  app.addHook('preClose', async () => {
    await tasks.shutdown();
  });
  app.addHook('onClose', async () => {
    await gates.flush();
    logger.info('loadtester stopped');
  });

  return app;
}
