/**
 * The `kubernetes` provider (docs/flagger-compatibility.md#32-routers): no routing objects at all. The apex Service always
 * selects the primary pods, so traffic moves when the primary's rollout replaces them: the only
 * strategy is blue/green, and the engine's settings force iterations for this provider
 * (progressionSettings). This is the null router: every write is a no-op.
 */
import type { Canary } from '../../../api/schema/canary.js';
import type { MeshRouter, Routes } from './router.js';

const ALL_TO_PRIMARY: Routes = { primaryWeight: 100, canaryWeight: 0, mirrored: false };
const ALL_TO_CANARY: Routes = { primaryWeight: 0, canaryWeight: 100, mirrored: false };

export class KubernetesRouter implements MeshRouter {
  reconcile(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Nothing to read back, so the routes follow the analysis: all to the primary before the first
   * iteration, all "to the canary" once iterations have run (blue/green's test traffic).
   */
  getRoutes(canary: Canary): Promise<Routes> {
    return Promise.resolve((canary.status?.iterations ?? 0) > 0 ? ALL_TO_CANARY : ALL_TO_PRIMARY);
  }

  setRoutes(): Promise<void> {
    return Promise.resolve();
  }

  finalize(): Promise<void> {
    return Promise.resolve();
  }
}
