/**
 * Real nginx (Debian's) as a third row of the router benchmark: the same upstreams, the same
 * split, configured by Vireo's nginx router. Skipped with a note when nginx is not installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NginxRouter } from '../src/platforms/local/routing/nginx/nginx.js';
import { processCpuSeconds } from './process-cpu.js';
import type { BenchTarget } from './proxy.js';

export async function nginxTarget(
  upstreams: { primary: string; canary: string },
  canaryWeight: number,
): Promise<BenchTarget[]> {
  if (spawnSync('nginx', ['-v']).error !== undefined) {
    process.stdout.write(
      '(nginx is not installed: its row is skipped; bash scripts/test-all.sh installs it)\n',
    );
    return [];
  }
  const directory = await mkdtemp(join(tmpdir(), 'vireo-bench-nginx-'));
  const route = {
    namespace: 'bench',
    service: 'tiny',
    listen: { host: '127.0.0.1', port: 0 },
    primary: [upstreams.primary],
    canary: [upstreams.canary],
    canaryWeight,
    mirror: false,
    match: [],
  };
  const nginx = await NginxRouter.start([route], { directory, accessLogFormat: 'off' });
  const { host, port } = nginx.address('bench', 'tiny');
  return [
    {
      name: `nginx ${nginx.build.version} via vireo (canary ${canaryWeight}%)`,
      url: `http://${host}:${port}`,
      cpuSeconds: async () => {
        let total = 0;
        for (const pid of await nginx.workerPids()) total += await processCpuSeconds(pid);
        return total;
      },
      close: async () => {
        await nginx.stop();
        await rm(directory, { recursive: true, force: true });
      },
    },
  ];
}
