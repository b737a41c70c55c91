/**
 * Latency at a fixed request rate, below saturation, measured by fortio (Istio's load generator,
 * the tool behind Istio's published sidecar latency figures): 32 keep-alive connections whose
 * requests are spread evenly in time (`-uniform`), a histogram resolved to 10 µs.
 *
 * Why not hey's `-q`: hey starts every client's ticker at the same instant, so 32 requests arrive
 * together every tick and the pass measures a burst, not a rate (docs/adr/0037-router-latency-at-a-fixed-rate.md).
 *
 * fortio is built from its Go module by tools/build-fortio.sh into .cache/fortio/bin (pinned by
 * tools/fortio/go.mod); `fortioBinary` builds it on first use when Go is installed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FixedRateFigures {
  /** Requests per second asked for, and what fortio managed to send. */
  readonly offeredPerSecond: number;
  readonly achievedPerSecond: number;
  readonly requests: number;
  /** Answers other than 200. */
  readonly failures: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
}

const repositoryRoot = join(import.meta.dirname, '..');
const BUILT_FORTIO = join(repositoryRoot, '.cache', 'fortio', 'bin', 'fortio');

/**
 * The fortio to use: `VIREO_FORTIO`, else the one tools/build-fortio.sh built (building it now
 * when Go is installed, with its progress on the terminal); undefined when there is none.
 */
export function fortioBinary(write: (text: string) => void): string | undefined {
  const chosen = process.env['VIREO_FORTIO'];
  if (chosen !== undefined && chosen !== '') return chosen;
  if (existsSync(BUILT_FORTIO)) return BUILT_FORTIO;
  if (spawnSync('go', ['version']).error !== undefined) {
    write('(fortio is not built and Go is not installed: the fixed-rate pass is skipped)\n');
    return undefined;
  }
  write('building fortio for the fixed-rate pass (once; tools/build-fortio.sh)\n');
  const build = spawnSync('bash', [join(repositoryRoot, 'tools', 'build-fortio.sh')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (build.status !== 0 || !existsSync(BUILT_FORTIO)) {
    write('(building fortio failed, see above: the fixed-rate pass is skipped)\n');
    return undefined;
  }
  return BUILT_FORTIO;
}

interface FortioResult {
  ActualQPS: number;
  RetCodes?: Record<string, number>;
  DurationHistogram: { Count: number; Percentiles?: { Percentile: number; Value: number }[] };
}

/** `perSecond` requests per second over `connections` connections for `seconds` seconds. */
export async function loadAtFixedRate(
  fortio: string,
  url: string,
  perSecond: number,
  connections: number,
  seconds: number,
): Promise<FixedRateFigures> {
  const directory = await mkdtemp(join(tmpdir(), 'vireo-bench-fortio-'));
  const output = join(directory, 'result.json');
  try {
    const args = [
      'load',
      '-quiet',
      '-c',
      String(connections),
      '-qps',
      String(perSecond),
      '-t',
      `${seconds}s`,
      '-uniform',
      '-r',
      '0.00001',
      '-p',
      '50,90,99,99.9',
      '-json',
      output,
      url,
    ];
    // spawn, never spawnSync: the router under test runs on this process's event loop.
    const child = spawn(fortio, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let errors = '';
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (code !== 0) throw new Error(`fortio failed (exit ${code}): ${errors.slice(-500)}`);
    const result = JSON.parse(await readFile(output, 'utf8')) as FortioResult;
    const percentile = (wanted: number) => {
      const found = result.DurationHistogram.Percentiles?.find((entry) => entry.Percentile === wanted);
      if (found === undefined) throw new Error(`fortio's result has no p${wanted}`);
      return found.Value * 1000;
    };
    const requests = result.DurationHistogram.Count;
    return {
      offeredPerSecond: perSecond,
      achievedPerSecond: result.ActualQPS,
      requests,
      failures: requests - (result.RetCodes?.['200'] ?? 0),
      p50Ms: percentile(50),
      p90Ms: percentile(90),
      p99Ms: percentile(99),
      p999Ms: percentile(99.9),
    };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** Each figure's median over the rounds. */
export function medianFigures(rounds: readonly FixedRateFigures[]): FixedRateFigures {
  const median = (pick: (figures: FixedRateFigures) => number) => medianOf(rounds.map(pick));
  return {
    offeredPerSecond: rounds[0]!.offeredPerSecond,
    achievedPerSecond: median((figures) => figures.achievedPerSecond),
    requests: median((figures) => figures.requests),
    failures: rounds.reduce((total, figures) => total + figures.failures, 0),
    p50Ms: median((figures) => figures.p50Ms),
    p90Ms: median((figures) => figures.p90Ms),
    p99Ms: median((figures) => figures.p99Ms),
    p999Ms: median((figures) => figures.p999Ms),
  };
}

export function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
