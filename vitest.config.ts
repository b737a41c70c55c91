import { defineConfig } from 'vitest/config';

// Two projects: `unit` is the fast inner loop (pure logic, no processes to start);
// `cluster` runs against a real kube-apiserver that the suite starts itself.
export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
          // A test's time includes cold module loading, schema compilation and child processes,
          // which take many times longer on a loaded machine; tests wait for outcomes, not time.
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        // Outages of the metrics backend and the chat services, against real servers on loopback;
        // each suite prints its figures.
        extends: true,
        test: {
          name: 'resilience',
          include: ['test/resilience/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 60_000,
        },
      },
      {
        // Property and fuzz tests: thousands of generated inputs, too slow for the inner loop.
        extends: true,
        test: {
          name: 'property',
          include: ['test/property/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
      {
        // Real programs from Debian (Prometheus, later nginx) started on loopback by the tests.
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        // The built binary and the README's promises (run after `npm run build`).
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
      {
        // The container image: built from the Dockerfile with buildah (minutes when cold, a no-op
        // when up to date) and run with podman, its controller against a test cluster.
        extends: true,
        test: {
          name: 'image',
          include: ['test/image/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        // The Helm charts (charts/) with the helm built by tools/build-helm.sh: lint and template
        // on their own, install, upgrade and uninstall on a test cluster (one per file).
        extends: true,
        test: {
          name: 'helm',
          include: ['test/helm/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        // Real requests through the real Traefik to pods that really serve, inside a private
        // network namespace: run with `npm run test:traffic` (docs/testing-traffic.md).
        extends: true,
        test: {
          name: 'traffic',
          include: ['test/traffic/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
