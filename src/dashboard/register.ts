/** `vireo dashboard` on the program (docs/dashboard.md); the server loads when the command runs. */
import type { Command } from 'commander';
import type { CliIo } from '../cli/main.js';
import type { DashboardFlags } from './command.js';

export function registerDashboard(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command('dashboard')
    .description('serve the web dashboard: every canary, live, with what was measured and why it was decided')
    .option(
      '--address <host:port>',
      'where to listen (default: 127.0.0.1:9898; beyond loopback needs authentication)',
    )
    .option(
      '--token <token>',
      'the bearer token users sign in with (prefer $VIREO_DASHBOARD_TOKEN: arguments show in ps)',
    )
    .option('--context <context>', 'the kubeconfig context to use')
    .option('--kubeconfig <file>', 'the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--local', "serve local mode's state directory instead of a cluster")
    .option(
      '--state-dir <dir>',
      'local mode: the state directory (implies --local; default: $VIREO_STATE_DIR or ~/.vireo/local)',
    )
    .action(async (flags: DashboardFlags) => {
      const [{ runDashboard }, { createLogger }] = await Promise.all([
        import('./command.js'),
        import('../shared/logger.js'),
      ]);
      const stopped = new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      setExitCode(
        await runDashboard(flags, io, { env: process.env, logger: createLogger({ level: 'warn' }), stopped }),
      );
    });
}
