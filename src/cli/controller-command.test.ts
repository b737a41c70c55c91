import { describe, expect, it } from 'vitest';
import { DEFAULT_PLATFORM_OPTIONS } from '../platforms/kubernetes/options.js';
import { createRouter } from '../platforms/kubernetes/routers/factory.js';
import type { RouterDeps } from '../platforms/kubernetes/routers/router.js';
import { parseLeaderElectionTimings, runController, type ControllerProcess } from './controller-command.js';
import type { CliIo } from './main.js';

describe('leader election timing flags', () => {
  it("defaults to Flagger's timings: lease 60 s, renew deadline 15 s, retry 5 s", () => {
    expect(parseLeaderElectionTimings({})).toEqual({
      leaseDurationMs: 60_000,
      renewDeadlineMs: 15_000,
      retryPeriodMs: 5_000,
    });
  });

  it('takes Go durations', () => {
    expect(
      parseLeaderElectionTimings({
        leaderElectionLeaseDuration: '6s',
        leaderElectionRenewDeadline: '4s',
        leaderElectionRetryPeriod: '500ms',
      }),
    ).toEqual({ leaseDurationMs: 6_000, renewDeadlineMs: 4_000, retryPeriodMs: 500 });
  });

  it('names the flag of a value that is not a duration', () => {
    expect(() => parseLeaderElectionTimings({ leaderElectionLeaseDuration: 'soon' })).toThrow(
      /^--leader-election-lease-duration: "soon" is not a duration of at least 1s/,
    );
    expect(() => parseLeaderElectionTimings({ leaderElectionLeaseDuration: '500ms' })).toThrow(
      /--leader-election-lease-duration/,
    );
  });

  it('refuses a renew deadline a standby could overtake, and one with too few attempts', () => {
    expect(() =>
      parseLeaderElectionTimings({ leaderElectionLeaseDuration: '10s', leaderElectionRenewDeadline: '10s' }),
    ).toThrow(
      /--leader-election-renew-deadline \(10000 ms\) must be shorter than --leader-election-lease-duration/,
    );
    expect(() =>
      parseLeaderElectionTimings({ leaderElectionRenewDeadline: '6s', leaderElectionRetryPeriod: '5s' }),
    ).toThrow(/more than 1\.2 × --leader-election-retry-period/);
  });
});

describe('--mesh-provider', () => {
  const io = { stdout: () => undefined, stderr: () => undefined } as unknown as CliIo;
  /** The controller gets past the flag and stops at the (missing) kubeconfig, or refuses the flag. */
  const start = (meshProvider: string) =>
    runController({ meshProvider, kubeconfig: '/nonexistent/vireo-test/kubeconfig' }, io, {
      env: {},
      signals: { once: () => process, off: () => process } as unknown as ControllerProcess['signals'],
    });

  // Every name Flagger's -mesh-provider takes (its CRD enum, the `smi:<version>:<mesh>` forms its
  // router factory matches by prefix, and smi:crossover from its Crossover tutorial).
  const FLAGGER_NAMES = [
    'istio',
    'linkerd',
    'appmesh',
    'appmesh:v1beta2',
    'smi:v1alpha1',
    'smi:v1alpha2',
    'smi:v1alpha3',
    'smi:v1alpha1:istio',
    'smi:v1alpha2:linkerd',
    'smi:v1alpha3:linkerd',
    'smi:v1alpha3:osm',
    'smi:crossover',
    'osm',
    'contour',
    'gloo',
    'nginx',
    'skipper',
    'traefik',
    'kuma',
    'apisix',
    'knative',
    'kubernetes',
    'gatewayapi:v1',
    'gatewayapi:v1beta1',
  ];

  it.each(FLAGGER_NAMES)('accepts %s and builds its router', async (name) => {
    await expect(start(name)).rejects.toThrow(
      /^--kubeconfig: cannot read \/nonexistent\/vireo-test\/kubeconfig/,
    );
    const deps = { client: {}, reader: {}, options: DEFAULT_PLATFORM_OPTIONS } as unknown as RouterDeps;
    expect(() =>
      createRouter(name, deps, { flag: '--mesh-provider', command: 'vireo controller' }),
    ).not.toThrow();
  });

  it.each(['smi', 'linkerd2', 'smi:v1alpha4', 'appmesh:v1beta3', 'gatewayapi', 'supergloo:istio', 'istio '])(
    'refuses %j before connecting, naming the flag and every known name',
    async (name) => {
      const refused = start(name);
      await expect(refused).rejects.toMatchObject({ code: 'E_UNKNOWN_ROUTER' });
      await expect(refused).rejects.toThrow(
        new RegExp(
          `^router provider "${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" from the flag --mesh-provider of vireo controller is not a provider name; known: apisix, appmesh, appmesh:v1beta2, contour, gatewayapi:v1, gatewayapi:v1beta1, gloo, istio, knative, kubernetes, kuma, linkerd, nginx, osm, skipper, smi:v1alpha1, smi:v1alpha2, smi:v1alpha3, smi:crossover, traefik, local\\.`,
        ),
      );
    },
  );

  it("refuses vireo local's own router, which has no Kubernetes implementation, naming the ones it has", async () => {
    const refused = start('local');
    await expect(refused).rejects.toMatchObject({ code: 'E_ROUTER_NOT_IMPLEMENTED' });
    await expect(refused).rejects.toThrow(
      /is not implemented yet on kubernetes; implemented: .*appmesh:v1beta2.*knative/,
    );
  });
});
