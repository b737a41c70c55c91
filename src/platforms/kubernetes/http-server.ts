/**
 * The controller's HTTP endpoint on --port (docs/flagger-compatibility.md#0-process-model): GET /metrics (Flagger's flagger_*
 * series plus Vireo's watch, queue and cache metrics) and GET /healthz (`OK` as Flagger's, or the
 * details as JSON with `Accept: application/json`). Nothing else is served,
 * and nothing here changes state, so the port needs no authentication.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { VireoError } from '../../shared/errors.js';

export interface HealthSource {
  /** True once the caches are filled and the workers run (or while waiting to lead). */
  healthy(): boolean;
  describe(): Record<string, unknown>;
}

export interface ControllerHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

// Two read-only routes on node:http rather than a web framework: a framework's modules (router,
// schema compiler, serializers) cost the controller about 15 MiB of resident memory
// (docs/controller.md "Memory").
export async function startControllerHttpServer(options: {
  host: string;
  port: number;
  registry: Registry;
  health: HealthSource;
}): Promise<ControllerHttpServer> {
  const server = createServer((request, response) => {
    void answer(request, response, options).catch((cause: unknown) => {
      if (!response.headersSent) send(response, request, 500, 'text/plain; charset=utf-8', 'internal error');
      else response.destroy(cause instanceof Error ? cause : undefined);
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.host, port: options.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (cause) {
    server.close();
    throw new VireoError(
      'E_CONTROLLER_LISTEN',
      `cannot listen on ${options.host}:${options.port} (--port): ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(
  request: IncomingMessage,
  response: ServerResponse,
  options: { registry: Registry; health: HealthSource },
): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(
      response,
      request,
      404,
      'text/plain; charset=utf-8',
      'not found: only GET /metrics and GET /healthz',
    );
    return;
  }
  if (path === '/metrics') {
    const text = await options.registry.metrics();
    send(response, request, 200, options.registry.contentType, text);
    return;
  }
  if (path === '/healthz') {
    const healthy = options.health.healthy();
    const code = healthy ? 200 : 503;
    if (request.headers.accept?.includes('application/json') === true) {
      const body = JSON.stringify({ status: healthy ? 'ok' : 'starting', ...options.health.describe() });
      send(response, request, code, 'application/json; charset=utf-8', body);
      return;
    }
    send(response, request, code, 'text/plain; charset=utf-8', healthy ? 'OK' : 'starting');
    return;
  }
  send(response, request, 404, 'text/plain; charset=utf-8', 'not found: only GET /metrics and GET /healthz');
}

function send(
  response: ServerResponse,
  request: IncomingMessage,
  code: number,
  contentType: string,
  body: string,
): void {
  response.writeHead(code, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  response.end(request.method === 'HEAD' ? undefined : body);
}
