/**
 * What a local-mode workload is: a command run as `replicas` processes, each on its own port,
 * ready when an HTTP path answers 2xx. A new revision of a workload is a changed spec; its
 * `specHash` is what the engine compares to notice one (the local TargetRevision.specHash).
 */
import { createHash } from 'node:crypto';
import { VireoError } from '../../shared/errors.js';

export interface ReadinessProbe {
  /** Polled as `http://127.0.0.1:<port><httpPath>` until it answers 2xx. */
  readonly httpPath: string;
  /** Per probe request (default 1000 ms). */
  readonly timeoutMs?: number;
  /** Between probes (default 500 ms). */
  readonly periodMs?: number;
}

export interface WorkloadSpec {
  /** A human name for messages (the set name is the identity). */
  readonly name: string;
  /** The program; found on PATH when it has no slash. Run directly, not through a shell. */
  readonly command: string;
  readonly args?: readonly string[];
  /** Added to Vireo's own environment; PORT, VIREO_WORKLOAD and VIREO_REPLICA are set by the supervisor and win. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory (default: Vireo's). A relative path is relative to Vireo's working directory. */
  readonly cwd?: string;
  /** Processes to run; 0 stops them all but keeps the set. */
  readonly replicas: number;
  /** Base port: replica i listens on port + i. 0 or absent: the supervisor picks free ports. */
  readonly port?: number;
  /** Absent: a replica is ready once its process has stayed up for a second. */
  readonly readiness?: ReadinessProbe;
}

/** A workload spec the supervisor cannot run; the message names the field. */
export class InvalidWorkloadSpecError extends VireoError {
  constructor(message: string) {
    super('E_WORKLOAD_SPEC', message);
  }
}

/** Set names end up in log file names, so they are kept to a safe alphabet. */
const SET_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,251}[a-zA-Z0-9])?$/;
const ENV_NAME = /^[^=\0]+$/;

export function validateSetName(set: string): void {
  if (!SET_NAME.test(set)) {
    throw new InvalidWorkloadSpecError(
      `workload set name "${set}" is not valid: use letters, digits, '.', '_' and '-', starting and ending with a letter or digit`,
    );
  }
}

/** Throws InvalidWorkloadSpecError naming the first field that cannot be run. */
export function validateWorkloadSpec(set: string, spec: WorkloadSpec): void {
  validateSetName(set);
  const fail = (field: string, rule: string, value: unknown): never => {
    throw new InvalidWorkloadSpecError(`workload "${set}": ${field} ${rule}, got ${JSON.stringify(value)}`);
  };
  if (typeof spec.command !== 'string' || spec.command.trim() === '' || spec.command.includes('\0')) {
    fail('command', 'must be a program name or path', spec.command);
  }
  spec.args?.forEach((arg, index) => {
    if (typeof arg !== 'string' || arg.includes('\0')) fail(`args[${index}]`, 'must be a string', arg);
  });
  for (const [name, value] of Object.entries(spec.env ?? {})) {
    if (!ENV_NAME.test(name)) fail(`env name`, "must be non-empty without '='", name);
    if (typeof value !== 'string' || value.includes('\0')) fail(`env.${name}`, 'must be a string', value);
  }
  if (spec.cwd !== undefined && (typeof spec.cwd !== 'string' || spec.cwd === '')) {
    fail('cwd', 'must be a directory path', spec.cwd);
  }
  if (!Number.isInteger(spec.replicas) || spec.replicas < 0 || spec.replicas > 1000) {
    fail('replicas', 'must be a whole number from 0 to 1000', spec.replicas);
  }
  const port = spec.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    fail('port', 'must be a port number from 0 to 65535 (0 picks free ports)', spec.port);
  }
  if (port > 0 && port + Math.max(spec.replicas, 1) - 1 > 65_535) {
    fail('port', `leaves no room for ${spec.replicas} replicas (replica i listens on port + i)`, spec.port);
  }
  validateReadiness(spec.readiness, fail);
}

function validateReadiness(
  readiness: ReadinessProbe | undefined,
  fail: (field: string, rule: string, value: unknown) => never,
): void {
  if (readiness === undefined) return;
  if (typeof readiness.httpPath !== 'string' || !readiness.httpPath.startsWith('/')) {
    fail('readiness.httpPath', "must start with '/'", readiness.httpPath);
  }
  for (const field of ['timeoutMs', 'periodMs'] as const) {
    const value = readiness[field];
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      fail(`readiness.${field}`, 'must be a positive number of milliseconds', value);
    }
  }
}

/**
 * A hash of what the processes run (command, args, env, cwd), independent of key order in env.
 * Replicas and readiness are not part of it: scaling or probing differently is not a new revision.
 */
export function workloadSpecHash(spec: WorkloadSpec): string {
  const env = Object.entries(spec.env ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonical = JSON.stringify([spec.command, spec.args ?? [], env, spec.cwd ?? null]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
