/**
 * The built-in router at a git revision against the working tree, in one process, on the same
 * upstreams: `npx tsx bench/router-ab.ts [revision]` (default HEAD).
 *
 * On a shared, busy machine `bench/proxy.ts`'s medians move by tens of percent between runs, so a
 * 10% change in the router's own work does not show there. Here both routers take turns under
 * the same `hey -c 32` load, round after round in alternating order, and the table gives the CPU
 * time this process spent per request for each (docs/local/router.md "Speed").
 *
 * The revision's routing files are copied beside the current ones (so their relative imports
 * resolve) into a directory that is removed at the end.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Registry } from 'prom-client';
import type { LocalRoute } from '../src/platforms/local/routing/route.js';
import { ProxyRouter } from '../src/platforms/local/routing/builtin/proxy.js';
import { TrafficRecorder } from '../src/platforms/local/routing/builtin/recorder.js';

/** The router's own files; a revision that predates one of them (fast-lane.ts) simply lacks it. */
const ROUTER_FILES = [
  'proxy.ts',
  'fast-lane.ts',
  'hop-by-hop.ts',
  'upstream-client.ts',
  'routing.ts',
  'recorder.ts',
  'traffic-window.ts',
];
const ROUTING_DIR = 'src/platforms/local/routing';

const UPSTREAM_CODE = `
const { createServer } = require('node:http');
const start = () => new Promise((resolve) => {
  const server = createServer((req, res) => { req.resume(); req.on('end', () => res.end('ok')); });
  server.keepAliveTimeout = 30000;
  server.listen(0, '127.0.0.1', () => resolve(server.address().port));
});
Promise.all([start(), start()]).then((ports) => process.stdout.write(JSON.stringify(ports) + '\\n'));
`;

interface RouterModules {
  readonly ProxyRouter: typeof ProxyRouter;
  readonly TrafficRecorder: typeof TrafficRecorder;
}

async function main(): Promise<void> {
  const revision = process.argv[2] ?? 'HEAD';
  const rounds = Number(process.env['VIREO_AB_ROUNDS'] ?? 12);
  const requests = Number(process.env['VIREO_AB_REQUESTS'] ?? 10_000);
  if (spawnSync('hey', ['-h']).error !== undefined)
    throw new Error('router-ab needs hey (apt-get install hey)');
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const copyDir = join(root, ROUTING_DIR, `.ab-${process.pid}`);
  mkdirSync(copyDir, { recursive: true });
  const upstreamProcess = spawn(process.execPath, ['-e', UPSTREAM_CODE], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    for (const file of ROUTER_FILES) {
      const path = `${revision}:${ROUTING_DIR}/builtin/${file}`;
      const exists = spawnSync('git', ['cat-file', '-e', path], { cwd: root }).status === 0;
      if (exists) writeFileSync(join(copyDir, file), execFileSync('git', ['show', path], { cwd: root }));
    }
    const base = (await import(pathToFileURL(join(copyDir, 'proxy.ts')).href)) as Pick<
      RouterModules,
      'ProxyRouter'
    >;
    const baseRecorder = (await import(pathToFileURL(join(copyDir, 'recorder.ts')).href)) as Pick<
      RouterModules,
      'TrafficRecorder'
    >;
    const [primaryPort, canaryPort] = await new Promise<[number, number]>((resolve, reject) => {
      upstreamProcess.stdout.once('data', (chunk: Buffer) =>
        resolve(JSON.parse(chunk.toString('utf8')) as [number, number]),
      );
      upstreamProcess.once('error', reject);
    });
    const route: LocalRoute = {
      namespace: 'bench',
      service: 'tiny',
      listen: { host: '127.0.0.1', port: 0 },
      primary: [`http://127.0.0.1:${primaryPort}`],
      canary: [`http://127.0.0.1:${canaryPort}`],
      canaryWeight: 30,
      mirror: false,
      match: [],
    };
    const routers = [
      {
        name: `${revision}`,
        router: await base.ProxyRouter.start(route, {
          recorder: new baseRecorder.TrafficRecorder({ registry: new Registry() }),
        }),
        cpu: [] as number[],
      },
      {
        name: 'working tree',
        router: await ProxyRouter.start(route, {
          recorder: new TrafficRecorder({ registry: new Registry() }),
        }),
        cpu: [] as number[],
      },
    ];
    try {
      for (const entry of routers) await hey(entry.router.url, Math.min(requests, 4_000)); // warm-up
      for (let round = 0; round < rounds; round += 1) {
        const order = round % 2 === 0 ? routers : [...routers].reverse();
        for (const entry of order) {
          const before = process.cpuUsage();
          await hey(entry.router.url, requests);
          const spent = process.cpuUsage(before);
          entry.cpu.push((spent.user + spent.system) / requests);
        }
      }
    } finally {
      for (const entry of routers) await entry.router.close();
    }
    const [old, current] = routers as [(typeof routers)[0], (typeof routers)[0]];
    const differences = old.cpu.map((value, round) => value - current.cpu[round]!);
    const lines = [
      `router A/B: hey -n ${requests} -c 32 per turn, ${rounds} rounds in alternating order, CPU µs per request of this process`,
      ...routers.map(
        (entry) =>
          `  ${entry.name.padEnd(14)} median ${median(entry.cpu).toFixed(1).padStart(6)}  rounds ${entry.cpu.map((value) => value.toFixed(0)).join(' ')}`,
      ),
      `  saved per request: median of the paired differences ${median(differences).toFixed(1)} µs; the working tree cheaper in ${differences.filter((value) => value > 0).length} of ${rounds} rounds`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    upstreamProcess.kill();
    rmSync(copyDir, { recursive: true, force: true });
  }
}

function hey(url: string, requests: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('hey', ['-n', String(requests), '-c', '32', `${url}/`], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`hey exited with ${code}`))));
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

await main();
