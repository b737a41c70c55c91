/**
 * The operations commands on the `vireo` program: `get`, `status`, `explain` and `completion`,
 * with kubectl's flags (docs/cli-operations.md). Heavy modules load when a command runs.
 */
import { Argument, Option, type Command } from 'commander';
import type { CliIo } from '../main.js';
import type { ExplainFlags, GetFlags, OpsDeps, StatusFlags } from './commands.js';

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
  return { io, openBackend, now: () => new Date(), stop: controller.signal };
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
