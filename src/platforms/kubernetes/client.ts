/**
 * The controller's Kubernetes client: JSON over undici, with client-node's KubeConfig for where
 * the API server is and how to authenticate (kubeconfig files, in-cluster ServiceAccount, exec
 * plugins). ADR 9 says why not client-node's generated APIs: they serialise through typed models
 * (dropping unknown fields, turning MicroTime into millisecond dates), 1.4's watch never times
 * out, and we need every request counted at one place for the benchmark and the metrics.
 *
 * Every method throws KubeApiError (errors.ts); `get` returns undefined on 404.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { Agent, type Dispatcher } from 'undici';
import { KubeApiError, kubeErrorCode } from './errors.js';
import { apiVersionOf, resourcePath, type ResourceType } from './resources.js';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  generateName?: string;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface ObjectList<T> {
  readonly items: T[];
  readonly resourceVersion: string;
}

export interface ListOptions {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly limit?: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent<T> {
  readonly type: WatchEventType;
  readonly object: T;
}

export interface WatchOptions extends ListOptions {
  readonly resourceVersion: string;
  /** Asks the server to end the watch after this long (it then ends cleanly). */
  readonly timeoutSeconds: number;
  /** No byte for this long means a dead connection (bookmarks arrive about once a minute). */
  readonly inactivityMs: number;
  readonly signal?: AbortSignal;
}

/** Requests sent, by verb (get, list, watch, create, update, patch, delete): the benchmark reads these. */
export class RequestCounter {
  private readonly counts = new Map<string, number>();
  private readonly listeners: ((verb: string, resource: string) => void)[] = [];

  count(verb: string, resource: string): void {
    this.counts.set(verb, (this.counts.get(verb) ?? 0) + 1);
    for (const listener of this.listeners) listener(verb, resource);
  }

  onRequest(listener: (verb: string, resource: string) => void): void {
    this.listeners.push(listener);
  }

  snapshot(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.counts);
  }

  total(): number {
    let total = 0;
    for (const value of this.counts.values()) total += value;
    return total;
  }
}

/** The field manager of every server-side apply and update the controller sends. */
export const FIELD_MANAGER = 'vireo';

const AUTH_HEADER_TTL_MS = 30_000;

export interface KubeClientOptions {
  /** Per-request timeout for everything but watches (default 30 s). */
  readonly requestTimeoutMs?: number;
  readonly counter?: RequestCounter;
}

export class KubeClient {
  readonly counter: RequestCounter;
  private readonly server: string;
  private readonly dispatcher: Dispatcher;
  private readonly requestTimeoutMs: number;
  private authHeader: { value: string | undefined; until: number } | undefined;
  private readonly writeListeners: ((resource: ResourceType, object: KubeObject) => void)[] = [];

  private constructor(
    private readonly kubeConfig: KubeConfig,
    server: string,
    dispatcher: Dispatcher,
    options: KubeClientOptions,
  ) {
    this.server = server.replace(/\/+$/, '');
    this.dispatcher = dispatcher;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.counter = options.counter ?? new RequestCounter();
  }

  /** A client for the kubeconfig's current context. */
  static async fromKubeConfig(kubeConfig: KubeConfig, options: KubeClientOptions = {}): Promise<KubeClient> {
    const cluster = kubeConfig.getCurrentCluster();
    if (cluster === null) {
      throw new KubeApiError(
        'E_KUBE_TRANSPORT',
        `the kubeconfig has no cluster for context "${kubeConfig.getCurrentContext()}"`,
        0,
      );
    }
    const tls: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; headers?: object } = {
      headers: {},
    };
    await kubeConfig.applyToHTTPSOptions(tls as never);
    const dispatcher = new Agent({
      connect: {
        ...(tls.ca === undefined ? {} : { ca: tls.ca }),
        ...(tls.cert === undefined ? {} : { cert: tls.cert }),
        ...(tls.key === undefined ? {} : { key: tls.key }),
        rejectUnauthorized: cluster.skipTLSVerify !== true,
      },
      connections: 32,
      keepAliveTimeout: 30_000,
    });
    return new KubeClient(kubeConfig, cluster.server, dispatcher, options);
  }

  /** Called with the object the API server returned after each create, replace or apply. */
  onWrite(listener: (resource: ResourceType, object: KubeObject) => void): void {
    this.writeListeners.push(listener);
  }

  private written<T extends KubeObject>(resource: ResourceType, object: T): T {
    for (const listener of this.writeListeners) listener(resource, object);
    return object;
  }

  get serverUrl(): string {
    return this.server;
  }

  async get<T extends KubeObject>(
    resource: ResourceType,
    namespace: string | undefined,
    name: string,
  ): Promise<T | undefined> {
    try {
      return await this.send<T>('get', 'GET', resourcePath(resource, namespace, name), resource);
    } catch (error) {
      if (error instanceof KubeApiError && error.code === 'E_KUBE_NOT_FOUND') return undefined;
      throw error;
    }
  }

  async list<T extends KubeObject>(
    resource: ResourceType,
    namespace?: string,
    options: ListOptions = {},
  ): Promise<ObjectList<T>> {
    const query = new URLSearchParams();
    if (options.labelSelector) query.set('labelSelector', options.labelSelector);
    if (options.fieldSelector) query.set('fieldSelector', options.fieldSelector);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    const items: T[] = [];
    let resourceVersion: string;
    let continueToken: string | undefined;
    do {
      if (continueToken !== undefined) query.set('continue', continueToken);
      const page = await this.send<{
        items?: T[];
        metadata?: { resourceVersion?: string; continue?: string };
      }>('list', 'GET', `${resourcePath(resource, namespace)}?${query.toString()}`, resource);
      // Lists omit apiVersion/kind on items; callers compare objects from lists and watches.
      for (const item of page.items ?? [])
        items.push({ apiVersion: apiVersionOf(resource), kind: resource.kind, ...item });
      resourceVersion = page.metadata?.resourceVersion ?? '';
      continueToken = page.metadata?.continue || undefined;
    } while (continueToken !== undefined);
    return { items, resourceVersion };
  }

  async create<T extends KubeObject>(resource: ResourceType, object: T): Promise<T> {
    const namespace = object.metadata.namespace;
    const created = await this.send<T>('create', 'POST', resourcePath(resource, namespace), resource, {
      body: withType(resource, object),
    });
    return this.written(resource, created);
  }

  /** PUT: fails with E_KUBE_CONFLICT when `metadata.resourceVersion` is no longer current. */
  async replace<T extends KubeObject>(resource: ResourceType, object: T): Promise<T> {
    const replaced = await this.send<T>(
      'update',
      'PUT',
      resourcePath(resource, object.metadata.namespace, object.metadata.name),
      resource,
      { body: withType(resource, object) },
    );
    return this.written(resource, replaced);
  }

  /** PUT to /status: only the status is written; conflicts as for `replace`. */
  replaceStatus<T extends KubeObject>(resource: ResourceType, object: T): Promise<T> {
    return this.send<T>(
      'update',
      'PUT',
      resourcePath(resource, object.metadata.namespace, object.metadata.name, 'status'),
      resource,
      { body: withType(resource, object) },
    );
  }

  /** Server-side apply with Vireo's field manager; `force` takes over fields other managers own. */
  async apply<T extends KubeObject>(resource: ResourceType, object: T, force = true): Promise<T> {
    const path = resourcePath(resource, object.metadata.namespace, object.metadata.name);
    const applied = await this.send<T>(
      'patch',
      'PATCH',
      `${path}?fieldManager=${FIELD_MANAGER}&force=${String(force)}`,
      resource,
      { body: withType(resource, object), contentType: 'application/apply-patch+yaml' },
    );
    return this.written(resource, applied);
  }

  /** JSON merge patch (RFC 7386); `null` values delete keys. `fieldManager` names the writer in managedFields. */
  mergePatch<T extends KubeObject>(
    resource: ResourceType,
    namespace: string | undefined,
    name: string,
    patch: object,
    subresource?: string,
    fieldManager?: string,
  ): Promise<T> {
    const query = fieldManager === undefined ? '' : `?fieldManager=${encodeURIComponent(fieldManager)}`;
    return this.send<T>(
      'patch',
      'PATCH',
      `${resourcePath(resource, namespace, name, subresource)}${query}`,
      resource,
      {
        body: patch,
        contentType: 'application/merge-patch+json',
      },
    );
  }

  /** Deletes; resolves false when the object did not exist. */
  async delete(
    resource: ResourceType,
    namespace: string | undefined,
    name: string,
    propagationPolicy: 'Background' | 'Foreground' | 'Orphan' = 'Background',
  ): Promise<boolean> {
    try {
      await this.send('delete', 'DELETE', resourcePath(resource, namespace, name), resource, {
        body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy },
      });
      return true;
    } catch (error) {
      if (error instanceof KubeApiError && error.code === 'E_KUBE_NOT_FOUND') return false;
      throw error;
    }
  }

  /**
   * One watch request: calls `onEvent` for each event until the server ends the stream (resolves)
   * or something fails (rejects: E_KUBE_GONE when the resourceVersion is too old). Reconnecting
   * is the caller's job (informer.ts supervises).
   */
  async watch<T extends KubeObject>(
    resource: ResourceType,
    namespace: string | undefined,
    options: WatchOptions,
    onEvent: (event: WatchEvent<T>) => void,
  ): Promise<void> {
    const query = new URLSearchParams({
      watch: '1',
      allowWatchBookmarks: 'true',
      resourceVersion: options.resourceVersion,
      timeoutSeconds: String(options.timeoutSeconds),
    });
    if (options.labelSelector) query.set('labelSelector', options.labelSelector);
    if (options.fieldSelector) query.set('fieldSelector', options.fieldSelector);
    const path = `${resourcePath(resource, namespace)}?${query.toString()}`;
    this.counter.count('watch', resource.plural);
    let response: Dispatcher.ResponseData;
    try {
      response = await this.dispatcher.request({
        origin: this.server,
        path,
        method: 'GET',
        headers: await this.headers(undefined),
        headersTimeout: this.requestTimeoutMs,
        bodyTimeout: options.inactivityMs,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (cause) {
      throw transportError('watch', resource, cause);
    }
    if (response.statusCode >= 300) {
      throw await apiError('watch', resource, path, response);
    }
    let buffered = '';
    try {
      for await (const chunk of response.body) {
        buffered += (chunk as Buffer).toString('utf8');
        let newline = buffered.indexOf('\n');
        while (newline >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          newline = buffered.indexOf('\n');
          if (line === '') continue;
          const event = JSON.parse(line) as { type: string; object: T & { code?: number; message?: string } };
          if (event.type === 'ERROR') {
            const status = event.object.code ?? 500;
            throw new KubeApiError(
              kubeErrorCode(status, undefined),
              `watch of ${resource.plural}: ${event.object.message ?? `error ${status}`}`,
              status,
            );
          }
          onEvent(event as WatchEvent<T>);
        }
      }
    } catch (cause) {
      if (cause instanceof KubeApiError) throw cause;
      throw transportError('watch', resource, cause);
    }
  }

  /**
   * Discovery of one group version (`GET /apis/<group>/<version>`): the resources it serves
   * (plural names, subresources as `<plural>/<sub>`), or none when the version is not served.
   * Routers whose kinds exist in several versions pick the one to write with it
   * (docs/routers/istio.md "API versions").
   */
  async servedResources(group: string, version: string): Promise<string[]> {
    // Counted (and named in errors) as the resource `discovery`.
    const resource: ResourceType = {
      group,
      version,
      plural: 'discovery',
      kind: 'APIResourceList',
      namespaced: false,
    };
    try {
      const answer = await this.send<{ resources?: { name?: string }[] }>(
        'get',
        'GET',
        `/apis/${encodeURIComponent(group)}/${encodeURIComponent(version)}`,
        resource,
      );
      return (answer.resources ?? []).flatMap((entry) => (entry.name ? [entry.name] : []));
    } catch (error) {
      if (error instanceof KubeApiError && error.code === 'E_KUBE_NOT_FOUND') return [];
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private async headers(contentType: string | undefined): Promise<Record<string, string>> {
    const now = Date.now();
    if (this.authHeader === undefined || this.authHeader.until < now) {
      const options: { headers: Record<string, string> } = { headers: {} };
      await this.kubeConfig.applyToHTTPSOptions(options);
      const value = options.headers['Authorization'] ?? options.headers['authorization'];
      this.authHeader = { value, until: now + AUTH_HEADER_TTL_MS };
    }
    return {
      accept: 'application/json',
      ...(this.authHeader.value === undefined ? {} : { authorization: this.authHeader.value }),
      ...(contentType === undefined ? {} : { 'content-type': contentType }),
    };
  }

  private async send<T>(
    verb: string,
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    resource: ResourceType,
    request: { body?: unknown; contentType?: string } = {},
  ): Promise<T> {
    this.counter.count(verb, resource.plural);
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    let response: Dispatcher.ResponseData;
    try {
      response = await this.dispatcher.request({
        origin: this.server,
        path,
        method,
        headers: await this.headers(
          body === undefined ? undefined : (request.contentType ?? 'application/json'),
        ),
        headersTimeout: this.requestTimeoutMs,
        bodyTimeout: this.requestTimeoutMs,
        ...(body === undefined ? {} : { body }),
      });
    } catch (cause) {
      throw transportError(verb, resource, cause);
    }
    if (response.statusCode >= 300) throw await apiError(verb, resource, path, response);
    return (await response.body.json()) as T;
  }
}

function withType<T extends KubeObject>(resource: ResourceType, object: T): T {
  return { ...object, apiVersion: apiVersionOf(resource), kind: resource.kind };
}

function transportError(verb: string, resource: ResourceType, cause: unknown): KubeApiError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new KubeApiError('E_KUBE_TRANSPORT', `${verb} ${resource.plural}: ${reason}`, 0, { cause });
}

async function apiError(
  verb: string,
  resource: ResourceType,
  path: string,
  response: Dispatcher.ResponseData,
): Promise<KubeApiError> {
  const text = await response.body.text().catch(() => '');
  let status: { message?: string; reason?: string } = {};
  try {
    status = JSON.parse(text) as typeof status;
  } catch {
    // Not a Status object (a proxy's HTML page): keep the HTTP status alone.
  }
  const where = path.split('?')[0] ?? path;
  const message = status.message ?? `HTTP ${response.statusCode}`;
  const hint =
    response.statusCode === 403
      ? ` (the controller's ServiceAccount needs "${verb}" on ${resource.plural}${resource.group === '' ? '' : `.${resource.group}`}: see kustomize/base/rbac.yaml)`
      : '';
  return new KubeApiError(
    kubeErrorCode(response.statusCode, status.reason),
    `${verb} ${where}: ${message}${hint}`,
    response.statusCode,
  );
}
