/**
 * Builds the local router backends by name. An unknown name is refused with the message every
 * Vireo factory gives (the name, the known ones, the nearest), never served by a default.
 */
import type { Logger } from 'pino';
import { VireoError } from '../../../shared/errors.js';
import { closestMatch } from '../../../validate/suggest.js';
import { LOCAL_ROUTER_NAMES, type LocalRouterName, type RouteBackend } from './backend.js';
import { ProxyBackend } from './builtin/backend.js';
import type { TrafficRecorder } from './builtin/recorder.js';
import { NginxBackend } from './nginx/backend.js';

export interface RouteBackendDeps {
  readonly logger: Logger;
  /** Where the built-in proxies record every answer. */
  readonly recorder: TrafficRecorder;
  /** nginx's own directory (config, logs, temp files). */
  readonly nginxDirectory: string;
  /** The nginx executable (default `nginx` on the PATH). */
  readonly nginxBinary?: string;
}

export class UnknownLocalRouterError extends VireoError {
  constructor(
    readonly router: string,
    source: string,
  ) {
    const suggestion = closestMatch(router, LOCAL_ROUTER_NAMES);
    super(
      'E_UNKNOWN_LOCAL_ROUTER',
      `${source}: unknown local router ${JSON.stringify(router)}; known routers: ${LOCAL_ROUTER_NAMES.join(', ')}${
        suggestion === undefined || suggestion === router ? '' : `. Did you mean "${suggestion}"?`
      }`,
    );
  }
}

/** `name` as a router name; `source` names where it came from (e.g. `Workload test/web spec.router`). */
export function localRouterName(name: string, source = 'router'): LocalRouterName {
  const known = LOCAL_ROUTER_NAMES.find((candidate) => candidate === name);
  if (known === undefined) throw new UnknownLocalRouterError(name, source);
  return known;
}

/** One backend by name; throws UnknownLocalRouterError for a name not in LOCAL_ROUTER_NAMES. */
export function createRouteBackend(name: 'builtin', deps: RouteBackendDeps): ProxyBackend;
export function createRouteBackend(name: 'nginx', deps: RouteBackendDeps): NginxBackend;
export function createRouteBackend(name: string, deps: RouteBackendDeps, source?: string): RouteBackend;
export function createRouteBackend(name: string, deps: RouteBackendDeps, source = 'router'): RouteBackend {
  const router = localRouterName(name, source);
  switch (router) {
    case 'builtin':
      return new ProxyBackend(deps.recorder, deps.logger);
    case 'nginx':
      return new NginxBackend({
        directory: deps.nginxDirectory,
        logger: deps.logger,
        ...(deps.nginxBinary === undefined ? {} : { binary: deps.nginxBinary }),
      });
  }
}

/** Every backend, each created once: what local mode's runtime serves its services with. */
export interface LocalRouteBackends {
  readonly builtin: ProxyBackend;
  readonly nginx: NginxBackend;
}

export function createRouteBackends(deps: RouteBackendDeps): LocalRouteBackends {
  return { builtin: createRouteBackend('builtin', deps), nginx: createRouteBackend('nginx', deps) };
}
