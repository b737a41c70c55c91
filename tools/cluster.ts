/**
 * `npm run cluster`: starts one test cluster (test/support/cluster.ts) in the foreground, prints
 * `KUBECONFIG=<path>` on stdout once it is healthy, and stops it cleanly on Ctrl-C or SIGTERM
 * (exit code 0). Progress goes to stderr, so `npm run -s cluster | head -1` yields just that line.
 *
 * The binaries are built first (a no-op taking well under a second when they are up to date).
 *
 * `npm run cluster -- --traffic` starts the cluster that carries real traffic instead
 * (test/support/traffic-cluster.ts: pods that serve, Traefik, Prometheus) in a private network
 * namespace, and also prints the gateway address and how to run a command inside the namespace
 * (docs/testing-traffic.md). It needs root, Traefik (tools/install-traefik.sh) and `npm run build`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startTestCluster, type TestCluster } from '../test/support/cluster.js';
import { enterNamespaceCommand, NETNS_MARKER_VARIABLE } from '../test/support/netns.js';
import { startTrafficCluster } from '../test/support/traffic-cluster.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const LAUNCHER_POLL_MS = 1_000;

function progress(line: string): void {
  process.stderr.write(`[cluster] ${line}\n`);
}

function buildBinaries(): void {
  const result = spawnSync('bash', [join(REPO_ROOT, 'tools/build-control-plane.sh')], {
    stdio: ['ignore', process.stderr, process.stderr],
  });
  if (result.status !== 0) {
    progress('building the control plane failed (see above); nothing was started');
    process.exit(1);
  }
}

function parentOf(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat is "pid (comm) state ppid ..."; comm may itself contain spaces or ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined; // not Linux, or already gone
  }
}

/**
 * The processes that launched us (tsx, sh, npm, the shell...), up to but excluding init.
 * `npm run` forwards SIGTERM only to its `sh -c`, which dies without passing it on; watching the
 * launchers is how a SIGTERM sent to npm still stops the cluster.
 */
function launcherPids(): number[] {
  const pids: number[] = [];
  for (
    let pid = parentOf(process.pid);
    pid !== undefined && pid > 1 && pids.length < 64;
    pid = parentOf(pid)
  ) {
    pids.push(pid);
  }
  return pids;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Resolves with the reason to stop: the first stop signal, or a launcher exiting. A second
 * signal while stopping forces the exit (the helper's exit hook still kills the processes).
 */
function stopRequested(): Promise<string> {
  const launchers = launcherPids();
  return new Promise((resolveReason) => {
    let requested = false;
    const request = (reason: string): void => {
      if (requested) return;
      requested = true;
      clearInterval(launcherWatch);
      resolveReason(reason);
    };
    // Also keeps Node's event loop alive: signal listeners do not, and the cluster's child
    // processes are unref'd.
    const launcherWatch = setInterval(() => {
      const gone = launchers.find((pid) => !isAlive(pid));
      if (gone !== undefined) request(`launcher process ${gone} exited`);
    }, LAUNCHER_POLL_MS);
    for (const signal of STOP_SIGNALS) {
      process.on(signal, () => {
        if (requested) {
          progress(`${signal} again: exiting without waiting`);
          process.exit(1);
        }
        request(signal);
      });
    }
  });
}

/** Runs this script again inside a private network namespace and exits with its exit code. */
function reexecInPrivateNetns(): void {
  // The child stops on the same Ctrl-C (same process group) or when this process goes away.
  for (const signal of STOP_SIGNALS) process.on(signal, () => undefined);
  const child = spawn(
    'bash',
    [
      join(REPO_ROOT, 'scripts/in-private-netns.sh'),
      process.execPath,
      ...process.execArgv,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit' },
  );
  child.once('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 0)));
}

async function traffic(): Promise<void> {
  const stopReason = stopRequested();
  buildBinaries();
  let started: Awaited<ReturnType<typeof startTrafficCluster>>;
  try {
    started = await startTrafficCluster({ log: progress });
  } catch (error) {
    progress(
      `could not start the traffic cluster: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(1);
  }
  const enter = enterNamespaceCommand(process.pid);
  process.stdout.write(
    [
      `KUBECONFIG=${started.kubeconfigPath}`,
      `GATEWAY=${started.traefik.url}`,
      `PROMETHEUS=${started.prometheus.url}`,
      `# inside the namespace, e.g.: ${enter} curl -H 'Host: <your Ingress host>' ${started.traefik.url}/`,
      '',
    ].join('\n'),
  );
  progress(`logs in ${started.cluster.dir} and ${started.traefik.logPath}; Ctrl-C to stop`);
  progress(`${await stopReason}: stopping`);
  await started.stop();
  process.exit(0);
}

async function main(): Promise<void> {
  if (process.argv.includes('--traffic')) {
    if (process.env[NETNS_MARKER_VARIABLE] === '1') await traffic();
    else reexecInPrivateNetns();
    return;
  }
  const stopReason = stopRequested();
  buildBinaries();

  let cluster: TestCluster;
  try {
    cluster = await startTestCluster({ log: progress });
  } catch (error) {
    progress(`could not start the cluster: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }

  process.stdout.write(`KUBECONFIG=${cluster.kubeconfigPath}\n`);
  progress(`server ${cluster.server}; logs in ${cluster.dir}; Ctrl-C to stop`);

  progress(`${await stopReason}: stopping`);
  const stoppingSince = Date.now();
  await cluster.stop();
  progress(`stopped in ${((Date.now() - stoppingSince) / 1000).toFixed(1)} s`);
  process.exit(0);
}

await main();
