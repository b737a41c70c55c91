/**
 * The contract of a Kubernetes router: one implementation per provider (kubernetes.ts, nginx.ts),
 * built by factory.ts. A provider router handles only its own routing objects; the factory wraps
 * it with the apex, primary and canary Services (../services.ts), so the engine sees one `Router`.
 *
 * Every method may run again after a crash, a restart or a lost leader lease, with the same or a
 * newer Canary, so every method is idempotent: repeating it with the same input changes nothing
 * and, when the cluster already matches, sends no write. Reads go through the injected
 * ObjectReader (a watch cache in the controller), which may lag a write by a moment: a create
 * refused as AlreadyExists is left for the next reconcile to sync, and a routing object missing
 * from the cache makes getRoutes/setRoutes throw (retriable) rather than guess the weights.
 */
import type { KubeClient } from '../client.js';
import type { KubernetesPlatformOptions } from '../options.js';
import type { ObjectReader } from '../reader.js';
import type { AffinityCookies, Router } from '../../../engine/ports.js';
import type { Routes } from '../../../engine/progression.js';
import type { Canary } from '../../../api/schema/canary.js';

export type { AffinityCookies, Router, Routes };

/** What every Kubernetes router is built from. */
export interface RouterDeps {
  /** Writes only (create, mergePatch, …): reads never go to the API server directly. */
  readonly client: KubeClient;
  readonly reader: ObjectReader;
  readonly options: KubernetesPlatformOptions;
}

/** The engine's Router port, as each provider implements it (Services excluded). */
export interface MeshRouter extends Router {
  /**
   * Creates the provider's routing objects, or syncs their shape with what they are derived from
   * (an Ingress, the Canary spec), without touching the weights in force: a reconcile in the
   * middle of an analysis must not move traffic. Resolves when there is nothing to do.
   */
  reconcile(canary: Canary): Promise<void>;
  /**
   * The weights in force, read back from the live routing objects (never from the Canary's
   * status, which may lag after a crash). Throws when the routing object cannot be read.
   */
  getRoutes(canary: Canary): Promise<Routes>;
  /**
   * Routes `routes.primaryWeight`/`routes.canaryWeight` (summing to 100), plus the A/B conditions
   * of `spec.analysis.match` where the provider supports them. Writes nothing when the objects
   * already say so. Resolves with no effect for providers without weights.
   */
  setRoutes(canary: Canary, routes: Routes, cookies?: AffinityCookies): Promise<void>;
  /**
   * revertOnDeletion: puts back what the router changed on objects the user owns. Objects the
   * Canary owns are left to garbage collection. Resolves with no effect when there is nothing to
   * restore.
   */
  finalize(canary: Canary): Promise<void>;
}
