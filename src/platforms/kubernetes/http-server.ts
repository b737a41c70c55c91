/**
 * The controller's HTTP endpoint on --port (docs/flagger-compatibility.md#0-process-model): GET /metrics (Flagger's flagger_*
 * series plus Vireo's watch, queue and cache metrics) and GET /healthz (`OK` as Flagger's, or the
 * details as JSON with `Accept: application/json`). Nothing else is served,
 * and nothing here changes state, so the port needs no authentication.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
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

export async function startControllerHttpServer(options: {
  host: string;
  port: number;
  registry: Registry;
  health: HealthSource;
}): Promise<ControllerHttpServer> {
  const app: FastifyInstance = Fastify({ logger: false });
  app.get('/metrics', async (_request, reply) => {
    const text = await options.registry.metrics();
    return reply.type(options.registry.contentType).send(text);
  });
  // Flagger answers `OK` as text, and probes and scripts grep for it; the details (watches,
  // queue, leader) are there for a client that asks for JSON.
  app.get('/healthz', (request, reply) => {
    const healthy = options.health.healthy();
    reply.code(healthy ? 200 : 503);
    if (request.headers.accept?.includes('application/json') === true)
      return reply.send({ status: healthy ? 'ok' : 'starting', ...options.health.describe() });
    return reply.type('text/plain; charset=utf-8').send(healthy ? 'OK' : 'starting');
  });
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (cause) {
    await app.close();
    throw new VireoError(
      'E_CONTROLLER_LISTEN',
      `cannot listen on ${options.host}:${options.port} (--port): ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
  const { port } = app.server.address() as AddressInfo;
  return { port, close: () => app.close() };
}
