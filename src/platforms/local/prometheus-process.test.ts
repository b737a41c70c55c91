import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderPrometheusConfig, replicaScrapeTargets } from './prometheus-process.js';
import type { ReplicaStatus } from './supervisor.js';

const replica = (index: number, port: number, specHash: string, running = true): ReplicaStatus => ({
  index,
  pid: running ? 100 : undefined,
  port,
  url: `http://127.0.0.1:${port}`,
  ready: true,
  restarts: 0,
  state: 'running',
  specHash,
});

/** The pod selector of the kubernetes observer's queries, anchored as PromQL anchors =~. */
const canaryPod = (target: string): RegExp => new RegExp(`^(?:${target}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+))$`);

describe('replicaScrapeTargets', () => {
  const targets = replicaScrapeTargets({
    namespace: 'test',
    target: 'web',
    canary: [replica(0, 4001, 'abcdef0123456789'), replica(1, 4002, 'abcdef0123456789', false)],
    primary: [replica(0, 4101, '0123456789abcdef')],
  });

  it('labels canary replicas so the kubernetes queries select them, and primaries so they do not', () => {
    expect(targets).toEqual([
      {
        address: '127.0.0.1:4001',
        labels: { kubernetes_namespace: 'test', kubernetes_pod_name: 'web-abcdef01-0' },
      },
      {
        address: '127.0.0.1:4101',
        labels: { kubernetes_namespace: 'test', kubernetes_pod_name: 'web-primary-01234567-0' },
      },
    ]);
    expect(canaryPod('web').test(targets[0]!.labels.kubernetes_pod_name!)).toBe(true);
    expect(canaryPod('web').test(targets[1]!.labels.kubernetes_pod_name!)).toBe(false);
  });

  it('renders one static config per target with its labels and a 1 s scrape', () => {
    const config = parse(renderPrometheusConfig(targets, 1)) as {
      global: { scrape_interval: string };
      scrape_configs: { static_configs: { targets: string[]; labels: Record<string, string> }[] }[];
    };
    expect(config.global.scrape_interval).toBe('1s');
    expect(config.scrape_configs[0]?.static_configs).toEqual([
      { targets: ['127.0.0.1:4001'], labels: targets[0]!.labels },
      { targets: ['127.0.0.1:4101'], labels: targets[1]!.labels },
    ]);
  });
});
