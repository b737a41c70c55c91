/**
 * The private network namespace the traffic suites run in (see docs/testing-traffic.md and
 * docs/adr/0024-real-traffic-test-cluster.md).
 *
 * `scripts/in-private-netns.sh` starts the whole test runner in a fresh network namespace
 * (`unshare --net`) holding nothing but a loopback device, with the pod network 10.244.0.0/16 on
 * it. Every pod IP kwok hands out is then a local address that a demo process can listen on and
 * that the API server accepts in EndpointSlices (it refuses loopback addresses), while nothing
 * started inside can reach or be reached from the machine's network. Every process the suite
 * starts (the control plane, the pods, Traefik, Prometheus, `vireo controller`, the clients)
 * inherits the namespace.
 */
import { networkInterfaces } from 'node:os';

import { VireoError } from '../../src/shared/errors.js';

/** Where the pod network lives; kwok's --cidr (cluster.ts) is a part of it. */
export const POD_NETWORK_ADDRESS = '10.244.0.1';
export const POD_NETWORK_PREFIX = 16;

/** The variable scripts/in-private-netns.sh sets inside the namespace. */
export const NETNS_MARKER_VARIABLE = 'VIREO_TRAFFIC_NETNS';

export class TrafficHarnessError extends VireoError {
  constructor(
    code: 'E_TRAFFIC_NOT_IN_NETNS' | 'E_TRAFFIC_POD' | 'E_TRAFFIC_TRAEFIK' | 'E_TRAFFIC_TIMEOUT',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

export interface NetnsCheck {
  readonly ok: boolean;
  /** Why not, when not. */
  readonly reason: string;
}

/**
 * True when this process runs in a namespace made by scripts/in-private-netns.sh: loopback is the
 * only device and it carries the pod network. Checking the devices (not only the marker variable)
 * keeps a traffic suite from ever binding pod addresses on a machine's real network.
 */
export function checkPrivateNetworkNamespace(
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(),
  env: NodeJS.ProcessEnv = process.env,
): NetnsCheck {
  const names = Object.keys(interfaces);
  const others = names.filter((name) => name !== 'lo');
  if (others.length > 0) {
    return { ok: false, reason: `network devices other than lo are present (${others.join(', ')})` };
  }
  const podAddress = (interfaces['lo'] ?? []).find((entry) => entry.address === POD_NETWORK_ADDRESS);
  if (podAddress === undefined) {
    return {
      ok: false,
      reason: `lo does not carry the pod network ${POD_NETWORK_ADDRESS}/${POD_NETWORK_PREFIX}`,
    };
  }
  if (env[NETNS_MARKER_VARIABLE] !== '1') {
    return { ok: false, reason: `${NETNS_MARKER_VARIABLE}=1 is not set` };
  }
  return { ok: true, reason: '' };
}

/** Throws a clear error, naming the command to use, outside the private namespace. */
export function assertInPrivateNetworkNamespace(): void {
  const check = checkPrivateNetworkNamespace();
  if (!check.ok) {
    throw new TrafficHarnessError(
      'E_TRAFFIC_NOT_IN_NETNS',
      `the traffic suites must run in a private network namespace (${check.reason}). ` +
        'Run them with "npm run test:traffic" (as root), which wraps vitest in scripts/in-private-netns.sh.',
    );
  }
}

/**
 * How a person runs a command in the namespace of the process `pid` from another terminal
 * (printed by `npm run cluster -- --traffic`).
 */
export function enterNamespaceCommand(pid: number): string {
  return `nsenter --target ${pid} --net --`;
}
