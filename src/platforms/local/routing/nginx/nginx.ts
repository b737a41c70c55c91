/**
 * Local mode's real-nginx router, part 2: runs Debian's nginx as a child process with the config
 * that nginx-config.ts renders, in a directory of its own (config, pid, logs, temp files), as
 * the user Vireo runs as, never touching /etc/nginx.
 *
 * - `start` picks free ports for routes that ask for port 0 (nginx cannot report a port it chose),
 *   tests the config with `nginx -t`, starts nginx in the foreground and waits until it answers.
 * - `configure` tests the new config before it replaces the running one, so a rejected config
 *   changes nothing; then SIGHUP makes nginx start workers with the new config while the old ones
 *   finish their in-flight requests. It resolves when the loopback admin server answers the new
 *   generation on a fresh connection, i.e. when new connections get the new config.
 * - `stop` asks for a graceful exit (SIGQUIT), then SIGTERM, then SIGKILL of the master and its
 *   workers by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  mkdir,
  open,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { VireoError } from '../../../../shared/errors.js';
import { findFreePort } from '../../../../shared/free-port.js';
import { silentLogger, type Logger } from '../../../../shared/logger.js';
import {
  exitOf,
  livePidFromFile,
  signalProcess,
  stopBySignals,
  stopProcess,
} from '../../../../shared/process.js';
import { GENERATION_PATH, nginxPaths, renderNginxConfig, type NginxConfigOptions } from './nginx-config.js';
import type { LocalRoute } from '../route.js';

/** Codes: E_NGINX_MISSING, E_NGINX_VERSION, E_NGINX_CONFIG, E_NGINX_START, E_NGINX_RELOAD, E_NGINX_NOT_RUNNING. */
export class NginxError extends VireoError {}

/** nginx 1.15.3 has every directive the config uses (upstream keepalive_timeout is the newest). */
export const MIN_NGINX_VERSION = [1, 15, 3] as const;

export interface NginxRouterOptions {
  /** Where nginx.conf, nginx.pid, logs/ and temp/ go; created when missing. */
  readonly directory: string;
  /** The nginx executable (default `nginx` on the PATH). */
  readonly binary?: string;
  readonly logger?: Logger;
  readonly workerProcesses?: NginxConfigOptions['workerProcesses'];
  readonly accessLogFormat?: NginxConfigOptions['accessLogFormat'];
  /** Until nginx answers after start (default 15 s). */
  readonly startTimeoutMs?: number;
  /** Until nginx serves a new config after SIGHUP (default 15 s). */
  readonly reloadTimeoutMs?: number;
  /** Graceful exit (in-flight requests finish) before SIGTERM, then SIGKILL (default 10 s). */
  readonly stopTimeoutMs?: number;
  /** Picks a free TCP port on a host; tests may inject their own. */
  readonly pickPort?: (host: string) => Promise<number>;
}

export interface NginxBuild {
  readonly version: string;
  /** `-e` (error log at startup) exists since 1.19.5. */
  readonly hasErrorLogFlag: boolean;
  readonly stubStatus: boolean;
  /** Whether this nginx knows `keepalive_min_timeout` (probed with `nginx -t`). */
  readonly keepaliveMinTimeout: boolean;
}

/**
 * Seconds an old worker keeps serving idle keep-alive connections during a reload, where nginx
 * supports it: enough for a request already on its way, short enough not to slow reloads.
 */
export const KEEPALIVE_MIN_TIMEOUT_SECONDS = 1;

interface Settings {
  readonly binary: string;
  readonly directory: string;
  readonly logger: Logger;
  readonly build: NginxBuild;
  readonly adminPort: number;
  readonly user: string | undefined;
  readonly workerProcesses: NginxConfigOptions['workerProcesses'];
  readonly accessLogFormat: NginxConfigOptions['accessLogFormat'];
  readonly reloadTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly pickPort: (host: string) => Promise<number>;
}

const POLL_INTERVAL_MS = 25;
/** Lines of nginx's standard error kept for error messages. */
const OUTPUT_LINES_KEPT = 50;

export class NginxRouter {
  private readonly settings: Settings;
  private readonly child: ChildProcess;
  private readonly output: string[];
  private readonly exit: Promise<void>;
  private current: readonly LocalRoute[];
  private currentConfig: string;
  private currentGeneration: number;
  /** configure() calls run one after the other. */
  private queue: Promise<void> = Promise.resolve();
  /** Set by stop(), so an exit it causes is not reported as unexpected. */
  private stopping = false;
  /** Worker pids last seen; a master that dies leaves them behind, to be ended by pid. */
  private knownWorkers: number[] = [];

  private constructor(
    settings: Settings,
    child: ChildProcess,
    output: string[],
    routes: readonly LocalRoute[],
    config: string,
  ) {
    this.settings = settings;
    this.child = child;
    this.output = output;
    this.current = routes;
    this.currentConfig = config;
    this.currentGeneration = 1;
    this.exit = exitOf(child);
  }

  /**
   * Starts nginx for `routes`. Routes with port 0 get a free port first; read them back from
   * `routes` or `address()`. Throws NginxError when nginx is missing, rejects the config (with
   * nginx's message) or does not answer in time; nothing keeps running then.
   */
  static async start(routes: readonly LocalRoute[], options: NginxRouterOptions): Promise<NginxRouter> {
    const binary = options.binary ?? 'nginx';
    const logger = options.logger ?? silentLogger();
    const directory = options.directory.replace(/\/+$/, '');
    const paths = nginxPaths(directory);
    await mkdir(paths.logs, { recursive: true });
    await mkdir(paths.temp, { recursive: true });
    const build = await inspectBuild(binary, directory);
    const pickPort = options.pickPort ?? findFreePort;
    await stopStaleNginx(paths, logger, options.stopTimeoutMs ?? 10_000);

    const settings: Settings = {
      binary,
      directory,
      logger,
      build,
      adminPort: await pickPort('127.0.0.1'),
      // Started as root, nginx would run its workers as `nobody`; keep them as this user instead.
      user: process.getuid?.() === 0 ? userInfo().username : undefined,
      workerProcesses: options.workerProcesses,
      accessLogFormat: options.accessLogFormat,
      reloadTimeoutMs: options.reloadTimeoutMs ?? 15_000,
      stopTimeoutMs: options.stopTimeoutMs ?? 10_000,
      pickPort,
    };
    const resolved = await resolvePorts(routes, [], pickPort);
    const config = render(settings, resolved, 1);
    await installConfig(settings, config);
    const errorLogOffset = await fileSize(paths.errorLog);

    const output: string[] = [];
    const child = spawn(binary, [...baseArgs(settings), '-g', 'daemon off;'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    collectOutput(child, output, logger);
    const router = new NginxRouter(settings, child, output, resolved, config);
    const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
    try {
      await router.waitUntilServing(1, resolved, deadline, errorLogOffset, [], 'E_NGINX_START');
    } catch (error) {
      await router.stop();
      throw error;
    }
    router.knownWorkers = await router.workerPids();
    child.once('exit', (code, signal) => {
      if (router.stopping) return;
      logger.error(
        { code, signal, output: output.slice(-5) },
        'nginx exited unexpectedly; ending its workers',
      );
      void endOrphans(router.knownWorkers);
    });
    logger.info({ pid: child.pid, directory, routes: resolved.length }, 'nginx router started');
    return router;
  }

  /** The nginx master's pid. */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** False once nginx has exited (after stop(), or on its own). */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The routes being served, with the ports chosen for port 0. */
  get routes(): readonly LocalRoute[] {
    return this.current;
  }

  /** Number of the live config: 1 after start, +1 per successful configure(). */
  get generation(): number {
    return this.currentGeneration;
  }

  /** The live nginx.conf text. */
  get config(): string {
    return this.currentConfig;
  }

  get paths(): ReturnType<typeof nginxPaths> {
    return nginxPaths(this.settings.directory);
  }

  /** Loopback admin server: `/vireo/generation`, and `/nginx_status` when nginx has stub_status. */
  get adminUrl(): string {
    return `http://127.0.0.1:${this.settings.adminPort}`;
  }

  /** What the nginx binary offers: version, stub_status, keepalive_min_timeout. */
  get build(): NginxBuild {
    return this.settings.build;
  }

  /** Where a service's clients connect. */
  address(namespace: string, service: string): { host: string; port: number } {
    const route = this.current.find((r) => r.namespace === namespace && r.service === service);
    if (route === undefined)
      throw new NginxError('E_NGINX_NO_ROUTE', `no route for ${namespace}/${service}: configure() one first`);
    return { host: route.listen.host, port: route.listen.port };
  }

  /** The master's worker processes (from /proc; empty where /proc is missing). */
  async workerPids(): Promise<number[]> {
    return childPids(this.pid);
  }

  /**
   * Replaces the routes. Validation errors (InvalidRouteError) and a config nginx rejects
   * (NginxError E_NGINX_CONFIG, with nginx's message) leave the running config serving. Resolves
   * once new connections are served by the new config; requests already in flight finish on the
   * old workers. Calls are serialised.
   */
  configure(routes: readonly LocalRoute[]): Promise<void> {
    const next = this.queue.then(() => this.reconfigure(routes));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async reconfigure(routes: readonly LocalRoute[]): Promise<void> {
    if (!this.running)
      throw new NginxError('E_NGINX_NOT_RUNNING', 'nginx is not running: start a new NginxRouter');
    const resolved = await resolvePorts(routes, this.current, this.settings.pickPort);
    const generation = this.currentGeneration + 1;
    const config = render(this.settings, resolved, generation);
    await installConfig(this.settings, config);

    const errorLogOffset = await fileSize(this.paths.errorLog);
    const oldWorkers = await this.workerPids();
    process.kill(this.pid, 'SIGHUP');
    try {
      await this.waitUntilServing(
        generation,
        resolved,
        Date.now() + this.settings.reloadTimeoutMs,
        errorLogOffset,
        oldWorkers,
        'E_NGINX_RELOAD',
      );
    } catch (error) {
      // nginx keeps the old config when it cannot apply a new one; the file must say the same,
      // or the next reload (or a restart) would apply this one.
      await writeFile(this.paths.config, this.currentConfig);
      throw error;
    }
    this.current = resolved;
    this.currentConfig = config;
    this.currentGeneration = generation;
    this.knownWorkers = await this.workerPids();
    this.settings.logger.info({ generation, routes: resolved.length }, 'nginx router reconfigured');
  }

  /**
   * Graceful stop: SIGQUIT lets workers finish in-flight requests; after `stopTimeoutMs` SIGTERM,
   * then SIGKILL of the master and of every worker. Idempotent.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (!this.running) {
      await endOrphans(this.knownWorkers);
      return;
    }
    const workers = [...new Set([...this.knownWorkers, ...(await this.workerPids())])];
    const outcome = await stopBySignals(
      {
        signal: (signal) => {
          if (signal === 'SIGKILL') for (const worker of workers) signalProcess(worker, signal);
          return signalProcess(this.pid, signal);
        },
        alive: () => this.running,
        exited: this.exit,
      },
      [
        ['SIGQUIT', this.settings.stopTimeoutMs],
        ['SIGTERM', 2_000],
        ['SIGKILL', 2_000],
      ],
      {
        onEscalate: (signal) =>
          this.settings.logger.warn({ pid: this.pid, signal }, 'nginx did not exit in time; escalating'),
      },
    );
    if (outcome === 'survived')
      this.settings.logger.warn({ pid: this.pid }, 'nginx did not exit after SIGKILL');
    // A master killed hard leaves its workers behind: end them by pid.
    await endOrphans(workers);
    this.settings.logger.info({ pid: this.pid }, 'nginx router stopped');
  }

  /**
   * Polls until the admin server answers `generation` on a fresh connection, every route's port
   * accepts connections and none of `oldWorkers` accepts new ones any more (each has exited or
   * titled itself "shutting down", which nginx does as it closes its listening sockets). Fails
   * fast when nginx exits or logs an [emerg] or [alert] line after `logOffset`.
   */
  private async waitUntilServing(
    generation: number,
    routes: readonly LocalRoute[],
    deadline: number,
    logOffset: number,
    oldWorkers: readonly number[],
    code: string,
  ): Promise<void> {
    const failure = (reason: string): NginxError =>
      new NginxError(
        code,
        code === 'E_NGINX_START'
          ? `nginx did not start: ${reason}`
          : `nginx did not apply generation ${generation} (generation ${this.currentGeneration} keeps serving): ${reason}`,
      );
    for (;;) {
      if (!this.running) throw failure(`it exited (${this.lastOutput() || 'no output'})`);
      const emergencies = await finalEmergencies(this.paths.errorLog, logOffset);
      if (emergencies.length > 0) throw failure(emergencies.join('; '));
      if (
        (await readGeneration(this.adminUrl)) === generation &&
        (await allListening(routes)) &&
        (await allShuttingDown(oldWorkers))
      )
        return;
      if (Date.now() > deadline) throw failure(`no answer in time (${this.lastOutput() || 'no output'})`);
      await sleep(POLL_INTERVAL_MS);
    }
  }

  private lastOutput(): string {
    return this.output.slice(-5).join(' | ');
  }
}

// ---------------------------------------------------------------------------------------------
// nginx itself.

function baseArgs(settings: Settings): string[] {
  const paths = nginxPaths(settings.directory);
  // -e stderr: errors before the config's own error_log is open go to us, not /var/log/nginx.
  return [
    '-p',
    `${settings.directory}/`,
    '-c',
    paths.config,
    ...(settings.build.hasErrorLogFlag ? ['-e', 'stderr'] : []),
  ];
}

function render(settings: Settings, routes: readonly LocalRoute[], generation: number): string {
  return renderNginxConfig(routes, {
    prefix: settings.directory,
    generation,
    admin: { port: settings.adminPort, stubStatus: settings.build.stubStatus },
    ...(settings.user === undefined ? {} : { user: settings.user }),
    ...(settings.workerProcesses === undefined ? {} : { workerProcesses: settings.workerProcesses }),
    ...(settings.accessLogFormat === undefined ? {} : { accessLogFormat: settings.accessLogFormat }),
    ...(settings.build.keepaliveMinTimeout
      ? { keepaliveMinTimeoutSeconds: KEEPALIVE_MIN_TIMEOUT_SECONDS }
      : {}),
  });
}

/**
 * Writes the config beside the live one, has nginx test it, then renames it over the live one.
 * A rejected config is kept as nginx.conf.rejected for inspection; the live file is untouched.
 */
async function installConfig(settings: Settings, config: string): Promise<void> {
  const paths = nginxPaths(settings.directory);
  const candidate = `${paths.config}.next`;
  await writeFile(candidate, config);
  const args = ['-t', '-q', '-p', `${settings.directory}/`, '-c', candidate];
  if (settings.build.hasErrorLogFlag) args.push('-e', 'stderr');
  const result = await run(settings.binary, args);
  if (result.code !== 0) {
    await rename(candidate, `${paths.config}.rejected`);
    throw new NginxError(
      'E_NGINX_CONFIG',
      `nginx rejected the configuration (kept in ${paths.config}.rejected): ${nginxMessage(result.output)}`,
    );
  }
  await rename(candidate, paths.config);
}

/** nginx's own words: its [emerg]/[alert] lines without the "nginx: " prefix, else all output. */
export function nginxMessage(output: string): string {
  const lines = output
    .split('\n')
    .map((line) => line.replace(/^nginx: /, '').trim())
    .filter((line) => line !== '');
  const important = lines.filter((line) => /\[(emerg|alert|crit)\]/.test(line));
  return (important.length > 0 ? important : lines).join('; ') || 'no message';
}

async function inspectBuild(binary: string, directory: string): Promise<NginxBuild> {
  let result: { code: number | null; output: string };
  try {
    result = await run(binary, ['-V']);
  } catch (error) {
    throw new NginxError(
      'E_NGINX_MISSING',
      `cannot run "${binary}" (${(error as Error).message}): install Debian's nginx (apt-get install nginx) or pass its path as "binary"`,
      { cause: error },
    );
  }
  const match = /nginx version: [^/\s]+\/(\d+)\.(\d+)\.(\d+)/.exec(result.output);
  if (result.code !== 0 || match === null)
    throw new NginxError(
      'E_NGINX_MISSING',
      `"${binary} -V" did not report an nginx version: ${result.output.trim()}`,
    );
  const version = [Number(match[1]), Number(match[2]), Number(match[3])] as const;
  const text = version.join('.');
  if (compareVersions(version, MIN_NGINX_VERSION) < 0)
    throw new NginxError(
      'E_NGINX_VERSION',
      `nginx ${text} is too old: the nginx router needs ${MIN_NGINX_VERSION.join('.')} or newer`,
    );
  const hasErrorLogFlag = compareVersions(version, [1, 19, 5]) >= 0;
  return {
    version: text,
    hasErrorLogFlag,
    stubStatus: result.output.includes('http_stub_status_module'),
    keepaliveMinTimeout: await knowsDirective(binary, directory, hasErrorLogFlag, {
      keepaliveMinTimeoutSeconds: KEEPALIVE_MIN_TIMEOUT_SECONDS,
    }),
  };
}

/** Whether `nginx -t` accepts an empty router config with these extra options. */
async function knowsDirective(
  binary: string,
  directory: string,
  hasErrorLogFlag: boolean,
  extra: Partial<NginxConfigOptions>,
): Promise<boolean> {
  const probe = `${directory}/probe.conf`;
  await writeFile(probe, renderNginxConfig([], { prefix: directory, ...extra }));
  const args = ['-t', '-q', '-p', `${directory}/`, '-c', probe, ...(hasErrorLogFlag ? ['-e', 'stderr'] : [])];
  const result = await run(binary, args);
  await rm(probe, { force: true });
  return result.code === 0;
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i += 1) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function run(binary: string, args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

function collectOutput(child: ChildProcess, output: string[], logger: Logger): void {
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim() === '') continue;
      output.push(line);
      if (output.length > OUTPUT_LINES_KEPT) output.shift();
      logger.warn({ nginx: line }, 'nginx output');
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.once('error', (error) => {
    output.push(`cannot run nginx: ${error.message}`);
    logger.error({ err: error }, 'cannot run nginx');
  });
}

/**
 * An nginx left running by an earlier Vireo for this same directory (its pid file names a live
 * nginx whose command line has our config) would hold the ports: stop it first.
 */
async function stopStaleNginx(
  paths: ReturnType<typeof nginxPaths>,
  logger: Logger,
  timeoutMs: number,
): Promise<void> {
  const pid = await livePidFromFile(
    paths.pid,
    (commandLine) => commandLine.includes('nginx') && commandLine.includes(paths.config),
  );
  if (pid === undefined) return;
  logger.warn({ pid }, 'stopping an nginx left running for this directory');
  await stopProcess(
    pid,
    [
      ['SIGQUIT', timeoutMs],
      ['SIGKILL', 0],
    ],
    { pollMs: POLL_INTERVAL_MS },
  );
}

// ---------------------------------------------------------------------------------------------
// Ports, probes and processes.

/**
 * Gives every port-0 route a free port; a route that had one in `previous` (same service and
 * host) keeps it, so clients keep their address across reconfigurations.
 */
async function resolvePorts(
  routes: readonly LocalRoute[],
  previous: readonly LocalRoute[],
  pickPort: (host: string) => Promise<number>,
): Promise<LocalRoute[]> {
  const resolved: LocalRoute[] = [];
  for (const route of routes) {
    if (route.listen.port !== 0) {
      resolved.push(route);
      continue;
    }
    const earlier = previous.find(
      (r) =>
        r.namespace === route.namespace && r.service === route.service && r.listen.host === route.listen.host,
    );
    const port = earlier?.listen.port ?? (await pickPort(route.listen.host));
    resolved.push({ ...route, listen: { host: route.listen.host, port } });
  }
  return resolved;
}

/** The generation the admin server answers on a new connection, or undefined. */
function readGeneration(adminUrl: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(`${adminUrl}${GENERATION_PATH}`, { agent: false, timeout: 1_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(res.statusCode === 200 ? Number(body.trim()) : undefined));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

async function allListening(routes: readonly LocalRoute[]): Promise<boolean> {
  const results = await Promise.all(routes.map((route) => accepts(route.listen.host, route.listen.port)));
  return results.every(Boolean);
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: host.replace(/^\[|\]$/g, ''), port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * The [emerg] and [alert] lines nginx wrote to its error log after `offset`, once they are final.
 * A failed bind() is not: nginx tries again for a few seconds and logs "still could not bind()"
 * when it gives up, so until then the reload may still succeed.
 */
async function finalEmergencies(path: string, offset: number): Promise<string[]> {
  const lines = (await readFrom(path, offset))
    .split('\n')
    .filter((line) => /\[(emerg|alert)\]/.test(line))
    // "2026/01/01 00:00:00 [emerg] 123#123: text" → "[emerg] text"
    .map((line) => line.replace(/^\S+ \S+ (\[\w+\]) \d+#\d+: /, '$1 '));
  const retryingBind =
    lines.some((line) => line.includes('bind()')) &&
    !lines.some((line) => line.includes('still could not bind'));
  return retryingBind ? [] : [...new Set(lines)];
}

async function childPids(parent: number): Promise<number[]> {
  // One read where the kernel lists children (CONFIG_PROC_CHILDREN; nginx's master is one thread).
  try {
    const listed = await readFile(`/proc/${parent}/task/${parent}/children`, 'utf8');
    return listed.split(' ').filter(Boolean).map(Number);
  } catch {
    return scanForChildren(parent);
  }
}

async function scanForChildren(parent: number): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readText(`/proc/${entry}/stat`);
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ")".
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === parent) children.push(Number(entry));
  }
  return children;
}

async function allShuttingDown(workers: readonly number[]): Promise<boolean> {
  for (const pid of workers) {
    const title = await readText(`/proc/${pid}/cmdline`);
    if (title.startsWith('nginx') && !title.includes('shutting down')) return false;
  }
  return true;
}

/** SIGKILL to each pid that is still an nginx process (a pid may have been reused since). */
async function endOrphans(pids: readonly number[]): Promise<void> {
  for (const pid of pids) if (await isNginx(pid)) signalProcess(pid, 'SIGKILL');
}

async function isNginx(pid: number): Promise<boolean> {
  return (await readText(`/proc/${pid}/cmdline`)).startsWith('nginx');
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

/** The text of a file from byte `offset` on ('' when it cannot be read). */
async function readFrom(path: string, offset: number): Promise<string> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const size = (await handle.stat()).size;
    if (size <= offset) return '';
    const buffer = Buffer.alloc(size - offset);
    await handle.read(buffer, 0, buffer.length, offset);
    return buffer.toString('utf8');
  } catch {
    return '';
  } finally {
    await handle?.close();
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
