/**
 * What client-node's `config.js` gets for the generated API in the controller (kube-config.ts):
 * the two names it imports, refusing to be used. Only `KubeConfig.makeApiClient` reaches them,
 * and the controller talks to the API server through its own client (client.ts).
 */
import { VireoError } from '../../shared/errors.js';

function refuse(): never {
  throw new VireoError(
    'E_KUBE_API_CLIENT',
    "KubeConfig.makeApiClient is not available in the controller (client-node's generated API is not loaded, to save memory); use the controller's KubeClient",
  );
}

export function createConfiguration(): never {
  return refuse();
}

export class ServerConfiguration {
  constructor() {
    refuse();
  }
}
