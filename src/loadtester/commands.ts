/**
 * What a task's command may be, decided before anything runs. Without `--allow-any-command` a
 * command is split into argv (no shell), its program must be in the allow-list, and options of
 * allow-listed programs that reach the file system are refused. With it, commands run exactly as
 * flagger-loadtester runs them (`sh -c`, `bash -c`, any helm or kubectl subcommand).
 */
import { basename } from 'node:path';
import { UsageError } from '../shared/errors.js';
import { checkArguments } from './argument-rules.js';
import { parseCommandLine, splitFields } from './command-line.js';
import { CommandNotAllowedError, InvalidTaskError, ShellSyntaxError } from './errors.js';

/** flagger-loadtester's image tools, limited to what load tests and read-only checks need. */
export const DEFAULT_ALLOWED_COMMANDS: readonly string[] = [
  'hey',
  'curl',
  'ghz',
  'wrk',
  'grpc_health_probe',
  'helm test',
  'helmv3 test',
  'kubectl rollout status',
  // Not `kubectl get`: with returnCmdOutput it would hand the pod's Secrets (`get secrets -o yaml`)
  // to anyone who can reach an unauthenticated loadtester. Add it with --allow-command if needed.
];

/**
 * Programs that run other programs given as arguments: allowing one would allow everything, so
 * they need --allow-any-command and cannot be allow-listed.
 */
const PROGRAM_RUNNERS = new Set([
  'sh',
  'bash',
  'dash',
  'zsh',
  'ksh',
  'mksh',
  'ash',
  'fish',
  'csh',
  'tcsh',
  'busybox',
  'env',
  'xargs',
  'sudo',
  'nohup',
  'timeout',
  'nice',
]);

/** An allow-list entry: a program name, then the arguments that must follow it ("kubectl get"). */
export type AllowEntry = readonly string[];

export interface CommandPolicy {
  readonly allowAnyCommand: boolean;
  readonly allowed: readonly AllowEntry[];
}

export const COMMAND_TASK_TYPES = ['cmd', 'bash', 'helm', 'helmv3', 'kubectl'] as const;
export type CommandTaskType = (typeof COMMAND_TASK_TYPES)[number];

export function parseAllowEntry(text: string): AllowEntry {
  const words = text
    .trim()
    .split(/\s+/)
    .filter((word) => word !== '');
  const [program] = words;
  if (program === undefined) throw new UsageError('--allow-command needs a program, for example "helm test"');
  if (program.includes('/')) {
    throw new UsageError(
      `--allow-command "${text}": give the program's name (${basename(program)}), not a path`,
    );
  }
  if (PROGRAM_RUNNERS.has(program)) {
    throw new UsageError(
      `--allow-command "${text}": ${program} runs any other program; use --allow-any-command instead`,
    );
  }
  return words;
}

export function describeAllowList(allowed: readonly AllowEntry[]): string {
  return allowed.length === 0 ? 'nothing' : allowed.map((entry) => entry.join(' ')).join(', ');
}

function entryMatches(entry: AllowEntry, argv: readonly string[]): boolean {
  return (
    entry[0] === basename(argv[0] ?? '') && entry.slice(1).every((word, index) => argv[index + 1] === word)
  );
}

/** Throws CommandNotAllowedError unless argv starts with an allow-list entry. */
export function checkProgram(argv: readonly string[], policy: CommandPolicy): void {
  const program = basename(argv[0] ?? '');
  if (PROGRAM_RUNNERS.has(program)) {
    throw new CommandNotAllowedError(
      `${program} runs other programs; start the loadtester with --allow-any-command to allow it`,
    );
  }
  if (policy.allowed.some((entry) => entryMatches(entry, argv))) return;
  // Name the subcommand when the program is listed with some other one ("helm uninstall").
  const withSubcommand = policy.allowed.some((entry) => entry[0] === program && entry.length > 1);
  const refused = withSubcommand && argv[1] !== undefined ? `${program} ${argv[1]}` : program;
  throw new CommandNotAllowedError(
    `"${refused}" is not allowed; allowed: ${describeAllowList(policy.allowed)} (extend with --allow-command)`,
  );
}

/**
 * The argv to run for a task, or a rejection. `text` is `metadata.cmd`: a command line for `cmd`
 * and `bash`, the program's arguments for `helm`, `helmv3` and `kubectl`.
 */
export function planCommand(type: CommandTaskType, text: string, policy: CommandPolicy): string[] {
  if (text.trim() === '') throw new InvalidTaskError(`metadata.cmd is required for type ${type}`);
  if (text.includes('\0')) throw new ShellSyntaxError('metadata.cmd contains a NUL byte');
  switch (type) {
    case 'cmd': {
      if (policy.allowAnyCommand) return ['sh', '-c', text];
      const argv = parseCommandLine(text);
      if (argv.length === 0) throw new InvalidTaskError('metadata.cmd holds no command');
      checkProgram(argv, policy);
      checkArguments(argv);
      return argv;
    }
    case 'bash':
      if (policy.allowAnyCommand) return ['bash', '-c', text];
      throw new CommandNotAllowedError(
        'bash tasks run a shell; start the loadtester with --allow-any-command to allow them',
      );
    case 'helm':
    case 'helmv3':
    case 'kubectl': {
      const argv = [type, ...splitFields(text)];
      if (!policy.allowAnyCommand) checkProgram(argv, policy);
      return argv;
    }
  }
}
