/**
 * The operations commands on the `vireo` program: `get`, `status`, `explain` and `completion`,
 * with kubectl's flags (docs/cli-operations.md). Heavy modules load when a command runs.
 */
import { Argument, Option, type Command } from 'commander';
import type { CliIo } from '../main.js';
import type { ActionFlags } from './action-command.js';
import type { ExplainFlags, GetFlags, OpsDeps, StatusFlags } from './commands.js';
import type { CanaryAction } from './port.js';

const ACTIONS: readonly { readonly action: CanaryAction; readonly summary: string }[] = [
  { action: 'promote', summary: 'promote a canary now, skipping the rest of its analysis' },
  { action: 'abort', summary: 'roll a canary back now, with the rollback alert' },
  { action: 'pause', summary: 'hold a canary at its current weight (spec.suspend: true)' },
  { action: 'resume', summary: 'let a paused canary go on (spec.suspend: false)' },
  { action: 'retry', summary: 'analyse a failed revision again, without a new spec' },
];

function targetOptions(command: Command): Command {
  return command
    .option('-n, --namespace <namespace>', "the canary's namespace (default: the context's, or default)")
    .option('--context <context>', 'the kubeconfig context to use')
    .option('--kubeconfig <file>', 'the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--local', "read local mode's state directory instead of a cluster")
    .option(
      '--state-dir <dir>',
      'local mode: the state directory (implies --local; default: $VIREO_STATE_DIR or ~/.vireo/local)',
    );
}

async function deps(io: CliIo): Promise<OpsDeps> {
  const { openBackend } = await import('./commands.js');
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const interactive = process.stdin.isTTY && process.stderr.isTTY;
  return {
    io,
    openBackend,
    now: () => new Date(),
    stop: controller.signal,
    ...(interactive ? { confirm: askOnTerminal } : {}),
  };
}

/** A y/N question on standard error, answered on standard input (only when both are a terminal). */
async function askOnTerminal(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await terminal.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    terminal.close();
  }
}

export function registerOperations(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  targetOptions(
    program
      .command('get')
      .description('list canaries with the columns of kubectl get canaries (vireo get = vireo get canaries)')
      .argument('[resource]', 'canaries (canary, cn)', 'canaries')
      .argument('[name]', 'one canary'),
  )
    .option('-A, --all-namespaces', 'every namespace')
    .option('-l, --selector <selector>', 'label selector: key=value, key!=value, key, !key, "key in (a,b)"')
    .option('-o, --output <format>', 'wide | json | yaml | name')
    .option('-w, --watch', 'after the list, print each change as it happens (Ctrl-C ends)')
    .action(async (resource: string, name: string | undefined, flags: GetFlags) => {
      const { runGet } = await import('./commands.js');
      setExitCode(await runGet(resource, name, flags, await deps(io)));
    });

  targetOptions(
    program
      .command('status')
      .description("a canary's phase, weights, checks against their ranges, gates, revisions and next action")
      .argument('<name>', 'the canary'),
  )
    .addOption(new Option('-o, --output <format>', 'json').choices(['json']))
    .option('-w, --watch', 'redraw on every change (Ctrl-C ends)')
    .action(async (name: string, flags: StatusFlags) => {
      const { runStatus } = await import('./commands.js');
      setExitCode(await runStatus(name, flags, await deps(io)));
    });

  targetOptions(
    program
      .command('explain')
      .description(
        "a canary's decision history as a timeline: what was measured, against what, what came next",
      )
      .argument('<name>', 'the canary'),
  )
    .option('--since <when>', 'only decisions from this long ago (10m, 1h) or this RFC 3339 time')
    .addOption(new Option('-o, --output <format>', 'json').choices(['json']))
    .action(async (name: string, flags: ExplainFlags) => {
      const { runExplain } = await import('./commands.js');
      setExitCode(await runExplain(name, flags, await deps(io)));
    });

  for (const { action, summary } of ACTIONS) {
    targetOptions(
      program
        .command(action)
        .description(`${summary}; recorded with who and why (docs/cli-operations.md)`)
        .argument('<name>', 'the canary'),
    )
      .option('--reason <text>', 'why (required): kept in the decision history with who asked')
      .option('-y, --yes', 'do not ask for confirmation (needed without a terminal, e.g. in CI)')
      .option('--wait', "show progress until the controller answered and the action's outcome is known")
      .option('--timeout <duration>', 'with --wait: give up after this long (exit 1)', '30m')
      .action(async (name: string, flags: ActionFlags) => {
        const { runAction } = await import('./action-command.js');
        setExitCode(await runAction(action, name, flags, await deps(io)));
      });
  }

  program
    .command('completion')
    .description('print a shell completion script: source <(vireo completion bash), or zsh')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh']))
    .action(async (shell: 'bash' | 'zsh') => {
      const { completionScript } = await import('./completion.js');
      io.stdout(completionScript(shell, program));
      setExitCode(0);
    });
}
