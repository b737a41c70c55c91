/**
 * The meshes' own CRDs (tools/mesh-crds/modules.tsv) install on the test cluster and are served,
 * so router tests can rely on them.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { installMeshCrds } from '../support/mesh-crds.js';
import { startKubeTest, type KubeTest } from '../support/kube.js';

let kube: KubeTest;

beforeAll(async () => {
  kube = await startKubeTest({ crds: false });
}, 180_000);

afterAll(async () => {
  await kube?.stop();
}, 60_000);

it.each([
  ['istio', 'virtualservices.networking.istio.io'],
  ['gatewayapi', 'httproutes.gateway.networking.k8s.io'],
  ['traefik', 'traefikservices.traefik.io'],
  ['smi', 'trafficsplits.split.smi-spec.io'],
  ['contour', 'httpproxies.projectcontour.io'],
  ['apisix', 'apisixroutes.apisix.apache.org'],
])(
  'installs the %s CRDs from their Go module, %s among them',
  async (set, expected) => {
    const crds = await installMeshCrds(kube.client, set);
    expect(crds.map((crd) => crd.metadata.name)).toContain(expected);
  },
  600_000,
);
