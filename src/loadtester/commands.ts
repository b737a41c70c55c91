/**
 * What a task's command may be, decided before anything runs (docs/loadtester.md, "Safe by
 * default"). Without `--allow-any-command`: `curl` (and `curl … | grep WORD`) becomes an
 * acceptance test sent by our own HTTP client; any other command must be an entry of the program
 * table, read against that entry's argument grammar and written out again by us; no shell runs.
 * With it, commands run exactly as flagger-loadtester runs them (`sh -c`, `bash -c`, any helm or
 * kubectl subcommand).
 */
import { UsageError } from '../shared/errors.js';
import { parseCommandLine, splitFields } from './command-line.js';
import { planCurl, type HttpPlan } from './curl.js';
import { CommandNotAllowedError, InvalidTaskError, ShellSyntaxError } from './errors.js';
import { entryFor, planProgram, TABLE_ENTRIES, type ProcessPlan } from './programs.js';
import { redactText } from './redact.js';

/** Everything --allow-command may name: the program table, plus curl (run by our client). */
export const ALLOWABLE_COMMANDS: readonly string[] = [
  'hey',
  'curl',
  ...TABLE_ENTRIES.filter((entry) => entry !== 'hey'),
];

/**
 * The default allow-list: load generators and read-only checks that cannot reach the cluster's
 * API. Not `kubectl rollout status`: kubectl acts with the loadtester's Kubernetes credentials;
 * add it with --allow-command where the loadtester has a token.
 */
export const DEFAULT_ALLOWED_COMMANDS: readonly string[] = ALLOWABLE_COMMANDS.filter(
  (entry) => !entry.startsWith('kubectl'),
);

export interface CommandPolicy {
  readonly allowAnyCommand: boolean;
  /** Entries of ALLOWABLE_COMMANDS. */
  readonly allowed: readonly string[];
}

/** A command run as given under --allow-any-command. */
export interface ShellPlan {
  readonly kind: 'process';
  readonly argv: readonly string[];
  readonly display: string;
  readonly targets: readonly [];
}

export type CommandPlan = ProcessPlan | HttpPlan | ShellPlan;

export const COMMAND_TASK_TYPES = ['cmd', 'bash', 'helm', 'helmv3', 'kubectl'] as const;
export type CommandTaskType = (typeof COMMAND_TASK_TYPES)[number];

/** Reads an --allow-command value; only table entries (and curl) can be allowed. */
export function parseAllowEntry(text: string): string {
  const normalized = text.trim().split(/\s+/).filter(Boolean).join(' ');
  if (normalized === '') throw new UsageError('--allow-command needs a program, for example "helm test"');
  if (!ALLOWABLE_COMMANDS.includes(normalized)) {
    throw new UsageError(
      `--allow-command "${text}": only these have an argument grammar the loadtester checks: ${ALLOWABLE_COMMANDS.join(', ')}; anything else needs --allow-any-command (unsafe, see docs/loadtester.md)`,
    );
  }
  return normalized;
}

export function describeAllowList(allowed: readonly string[]): string {
  return allowed.length === 0 ? 'nothing' : allowed.join(', ');
}

function shell(argv: string[], text: string): ShellPlan {
  return { kind: 'process', argv, display: redactText(text), targets: [] };
}

function curlAllowed(plan: HttpPlan, policy: CommandPolicy): HttpPlan {
  if (!policy.allowed.includes('curl')) {
    throw new CommandNotAllowedError(
      `"curl" is not allowed; allowed: ${describeAllowList(policy.allowed)} (extend with --allow-command)`,
    );
  }
  return plan;
}

/**
 * The plan for a task, or a rejection. `text` is `metadata.cmd`: a command line for `cmd` and
 * `bash`, the program's arguments for `helm`, `helmv3` and `kubectl`.
 */
export function planCommand(type: CommandTaskType, text: string, policy: CommandPolicy): CommandPlan {
  if (text.trim() === '') throw new InvalidTaskError(`metadata.cmd is required for type ${type}`);
  if (text.includes('\0')) throw new ShellSyntaxError('metadata.cmd contains a NUL byte');
  switch (type) {
    case 'cmd': {
      if (policy.allowAnyCommand) return shell(['sh', '-c', text], text);
      const curl = planCurl(text);
      if (curl !== undefined) return curlAllowed(curl, policy);
      const argv = parseCommandLine(text);
      if (argv.length === 0) throw new InvalidTaskError('metadata.cmd holds no command');
      return planProgram(argv, policy.allowed);
    }
    case 'bash': {
      if (policy.allowAnyCommand) return shell(['bash', '-c', text], text);
      const curl = planCurl(text);
      if (curl !== undefined) return curlAllowed(curl, policy);
      // A command line without shell syntax means the same with or without bash: run it as a cmd,
      // blocking (grpc_health_probe in Flagger's docs is written as a bash task).
      const argv = parseCommandLine(text);
      if (argv.length === 0) throw new InvalidTaskError('metadata.cmd holds no command');
      if (entryFor(argv) === undefined) {
        throw new CommandNotAllowedError(
          `bash tasks run a shell, which the loadtester does not do; "curl … | grep WORD" and single programs of the table are understood (docs/loadtester.md), anything else needs --allow-any-command`,
        );
      }
      return planProgram(argv, policy.allowed);
    }
    case 'helm':
    case 'helmv3':
    case 'kubectl': {
      const argv = [type, ...splitFields(text)];
      if (policy.allowAnyCommand) return shell(argv, `${type} ${text}`);
      return planProgram(argv, policy.allowed);
    }
  }
}
