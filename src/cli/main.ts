/**
 * The `vireo` command line. Commands are thin: they parse options, call the programmatic API and
 * print; heavy modules load only when their command runs. Errors are handled once, here.
 */
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_MESH_PROVIDER, implementedRouters } from '../routers/traits.js';
import { VireoError } from '../shared/errors.js';
import { printableLines } from '../shared/printable.js';
import { formatVersion, readBuildInfo } from '../shared/build-info.js';
import type { AlertTestOptions } from './alert-command.js';
import type { ControllerFlags } from './controller-command.js';
import type { MetricsQueryOptions } from './metrics-command.js';
import { registerOperations } from './ops/register.js';
import { registerDashboard } from '../dashboard/register.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  // Capped and decoded like manifest files (src/shared/text-input.ts).
  readStdin: async () => (await import('../shared/text-input.js')).readManifestStream(process.stdin),
};

export function buildProgram(io: CliIo, setExitCode: (code: number) => void): Command {
  const program = new Command('vireo')
    .description('Progressive delivery: canary, A/B, blue/green and mirroring, compatible with Flagger')
    .version(
      formatVersion(readBuildInfo()),
      '-v, --version',
      'print the version, the git commit of the build and the Node.js version',
    )
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('validate')
    .description('check Canary, MetricTemplate and AlertProvider manifests offline (schema and semantics)')
    .argument(
      '<paths...>',
      'files, directories (searched recursively for .yaml, .yml, .json) or - for standard input',
    )
    .addOption(new Option('-o, --format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option(
      '--mesh-provider <provider>',
      'provider assumed for canaries without spec.provider, as the controller flag',
    )
    .addHelpText(
      'after',
      '\nExit status: 0 valid (warnings allowed), 1 invalid, 2 some input could not be read.\n' +
        'Each problem prints as file:line:col: Kind/name spec.path: message',
    )
    .action(async (paths: string[], options: { format: 'text' | 'json'; meshProvider?: string }) => {
      const { runValidate } = await import('./validate-command.js');
      setExitCode(await runValidate(paths, options, io));
    });

  program
    .command('simulate')
    .description("print the timeline a Canary's analysis settings imply: steps, weights, promotion, rollback")
    .argument('<file>', 'a file (or - for standard input) holding one Canary')
    .option('--json', 'print the timeline as JSON')
    .option('--name <name>', 'which Canary, when the file holds several')
    .option(
      '--mesh-provider <provider>',
      'provider assumed when spec.provider is unset, as the controller flag',
      DEFAULT_MESH_PROVIDER,
    )
    .option(
      '--fail-from <time>',
      'make every check fail from this time on (e.g. 2m) to see when the rollback happens',
    )
    .action(
      async (
        file: string,
        options: { json?: boolean; name?: string; meshProvider: string; failFrom?: string },
      ) => {
        const { runSimulate } = await import('./simulate-command.js');
        setExitCode(await runSimulate(file, options, io));
      },
    );

  program
    .command('gate')
    .description("open, close or inspect a canary's manual gates on a loadtester")
    .argument(
      '<action>',
      'open | approve (same as open) | close | halt (same as close) | rollback | cancel-rollback | status',
    )
    .argument('<canary>', 'NAME.NAMESPACE of the canary, for example podinfo.test')
    .requiredOption(
      '--loadtester <url>',
      "the loadtester the canary's webhooks call, for example http://flagger-loadtester.test/",
    )
    .option('--token <token>', 'bearer token of the loadtester (default: $VIREO_LOADTESTER_TOKEN)')
    .action(async (action: string, canary: string, options: { loadtester: string; token?: string }) => {
      const { runGate } = await import('./gate-command.js');
      const token = options.token ?? process.env['VIREO_LOADTESTER_TOKEN'];
      setExitCode(await runGate(action, canary, { loadtester: options.loadtester, token }, io));
    });

  program
    .command('loadtester')
    .description(
      'serve a flagger-loadtester compatible API (load tests, acceptance tests, manual gates), safe by default',
    )
    .option('--port <port>', 'port to listen on; 0 picks a free one (default: 8080)')
    .option(
      '--host <host>',
      'address to listen on (default: 0.0.0.0 with a token, 127.0.0.1 without; other addresses need a token)',
    )
    .option(
      '--token <token>',
      'require Authorization: Bearer <token> on every route but GET /healthz (default: $VIREO_LOADTESTER_TOKEN)',
    )
    .option(
      '--allow-any-command',
      'UNSAFE, as flagger-loadtester: run cmd tasks with sh -c, allow bash tasks and any program (needs --token)',
    )
    .option(
      '--allow-command <command>',
      'also allow an entry of the program table, such as "kubectl rollout status" (repeatable)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--no-default-commands', 'start from an empty allow-list instead of hey, curl, ghz, wrk, …')
    .option(
      '--allow-target <host[:port]>',
      'servers tasks may reach: HOST, HOST:PORT or *.SUFFIX[:PORT] (repeatable; default: any but loopback and link-local)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--namespace-regexp <regexp>', 'refuse payloads whose namespace does not match (default: all)')
    .option(
      '--timeout <duration>',
      'longest a command may run; metadata.timeout may shorten it (default: 1h)',
    )
    .option('--state-file <file>', 'where open gates are kept (default: ./.vireo/loadtester-gates.json)')
    .option('--max-concurrent <n>', 'commands and load tests running at once; more get 429 (default: 8)')
    .option('--body-limit <bytes>', 'largest request body; more gets 413 (default: 65536)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default: info)')
    .addHelpText(
      'after',
      '\nSee docs/loadtester.md for the API, the allow-list and migrating from flagger-loadtester.',
    )
    .action(async (options: Record<string, unknown>) => {
      const { runLoadtester } = await import('./loadtester-command.js');
      setExitCode(await runLoadtester(options, io));
    });

  program
    .command('demo')
    .description(
      'the seed scenario, live on this machine: V1 serves, a faulty V2 is rolled back with an alert, V3 is promoted',
    )
    .option('--json', 'print one JSON event per line')
    .option(
      '--interval <duration>',
      'run at realistic speed with this analysis interval (default: 10s, 10x faster)',
    )
    .addOption(
      new Option(
        '--router <router>',
        'builtin: Vireo measures; nginx: real nginx, Prometheus and hey (Debian packages)',
      )
        .choices(['builtin', 'nginx'])
        .default('builtin'),
    )
    .addHelpText(
      'after',
      '\nExit status: 0 when V2 was rolled back and V3 promoted, 1 otherwise.\n' +
        'Runs real processes, a router splitting live traffic and a webhook receiving the alert; nothing to install.',
    )
    .action(async (options: { json?: boolean; interval?: string; router?: string }) => {
      const { runDemo } = await import('./demo-command.js');
      setExitCode(await runDemo(options, io));
    });

  program
    .command('demo-service')
    .description(
      'the demo web service (V1/V2/V3 of the demo), configured by PORT, HOST, VERSION, ERROR_RATE, LATENCY, …',
    )
    .addHelpText('after', '\nSee docs/local/demo-service.md for the variables and the endpoints.')
    .action(async () => {
      const { runDemoServiceCommand } = await import('./demo-service-command.js');
      setExitCode(await runDemoServiceCommand(io));
    });

  program
    .command('controller')
    .description('the Kubernetes operator: runs Canaries in a cluster, a drop-in for Flagger')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--context <name>', 'kubeconfig context to use')
    .option(
      '--mesh-provider <provider>',
      `router for canaries without spec.provider: ${implementedRouters('kubernetes').join(' or ')} (default: ${DEFAULT_MESH_PROVIDER})`,
    )
    .option('--metrics-server <url>', 'Prometheus for the built-in checks (default: http://prometheus:9090)')
    .option('--namespace <namespace>', 'watch only this namespace (default: all)')
    .option(
      '--selector-labels <labels>',
      'comma-separated selector labels to look for (default: app,name,app.kubernetes.io/name)',
    )
    .option(
      '--include-label-prefix <prefixes>',
      'comma-separated label prefixes copied to generated objects; * for all (default: none)',
    )
    .option('--no-enable-config-tracking', 'do not copy and track the ConfigMaps and Secrets of targets')
    .option(
      '--ingress-annotations-prefix <prefix>',
      'annotation prefix of the nginx canary Ingress (default: nginx.ingress.kubernetes.io)',
    )
    .option('--ingress-class <class>', "ingressClassName of the contour router's HTTPProxy (default: none)")
    .option('--slack-url <url>', 'global Slack webhook for canaries without alerts (default: $SLACK_URL)')
    .option('--slack-user <name>', 'Slack user name (default: $SLACK_USER or flagger)')
    .option('--slack-channel <channel>', 'Slack channel (default: $SLACK_CHANNEL)')
    .option('--slack-proxy-url <url>', 'proxy for Slack (default: $SLACK_PROXY_URL)')
    .option('--msteams-url <url>', 'global Microsoft Teams webhook (default: $MSTEAMS_URL)')
    .option('--msteams-proxy-url <url>', 'proxy for Microsoft Teams (default: $MSTEAMS_PROXY_URL)')
    .option('--event-webhook <url>', 'POST every canary event here (for canaries without event hooks)')
    .option('--cluster-name <name>', 'cluster name shown in alerts')
    .option('--enable-leader-election', 'campaign for a Lease; only the leader runs canaries')
    .option(
      '--leader-election-namespace <namespace>',
      "namespace of the Lease (default: --namespace, else the Pod's own, else kube-system)",
    )
    .option(
      '--leader-election-lease-duration <duration>',
      'how long a standby waits after the last renewal before taking over (default: 60s)',
    )
    .option(
      '--leader-election-renew-deadline <duration>',
      'the leader steps down when it could not renew for this long (default: 15s)',
    )
    .option('--leader-election-retry-period <duration>', 'time between Lease attempts (default: 5s)')
    .option('--port <port>', 'port for /metrics and /healthz; 0 picks a free one (default: 8080)')
    .option('--dashboard-port <port>', 'also serve the web dashboard on this port (docs/dashboard.md)')
    .option(
      '--host <host>',
      'address to listen on (default: 0.0.0.0 with a token, 127.0.0.1 without; other addresses need a token)',
    )
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default: info)')
    .option('--threadiness <n>', 'canary sync workers (default: 2)')
    .addOption(
      new Option(
        '--min-analysis-interval <duration>',
        'shortest analysis interval (default 10s; lower on test clusters only)',
      ).hideHelp(),
    )
    .addHelpText(
      'after',
      '\nFlagger-style single-dash flags (-mesh-provider=nginx) are accepted too.\n' +
        'Install with: kubectl apply -k kustomize/base (see docs/controller.md).\n' +
        'Exit status: 0 after SIGTERM/SIGINT, 1 when leadership was lost or the start failed.',
    )
    .action(async (options: ControllerFlags) => {
      const { runController } = await import('./controller-command.js');
      setExitCode(await runController(options, io));
    });

  const alert = program.command('alert').description('work with AlertProviders (chat notifications)');
  alert
    .command('test')
    .description('send one test message through an AlertProvider and print what the chat service answered')
    .requiredOption('-f, --file <file>', 'a file (or - for standard input) holding one AlertProvider')
    .addOption(
      new Option('--severity <severity>', 'severity of the test message')
        .choices(['info', 'warn', 'error'])
        .default('info'),
    )
    .option('--message <text>', 'text of the test message (default: "Test alert from Vireo: …")')
    .option(
      '--secret-file <file>',
      'the Secret named by spec.secretRef, as a YAML or JSON manifest (data or stringData)',
    )
    .option('--kubeconfig <file>', 'read the Secret from this cluster (default: $KUBECONFIG)')
    .option('--context <name>', 'kubeconfig context to use')
    .addHelpText(
      'after',
      '\nSecrets come from --secret-file, else from the cluster of --kubeconfig or $KUBECONFIG.\n' +
        'Exit status: 0 when the service answered 2xx, 1 otherwise, 2 when the file could not be read.\n' +
        'See docs/notifiers.md for each service and how to get its webhook URL.',
    )
    .action(async (options: AlertTestOptions) => {
      const { runAlertTest } = await import('./alert-command.js');
      setExitCode(await runAlertTest(options, io));
    });

  registerOperations(program, io, setExitCode);
  registerDashboard(program, io, setExitCode);

  const local = program
    .command('local')
    .description('local mode: canaries for services that run as processes on this machine');
  const stateDir = (command: Command): Command =>
    command.option('--state-dir <dir>', 'state directory (default: $VIREO_STATE_DIR or ~/.vireo/local)');
  stateDir(
    local
      .command('apply')
      .description('start local mode, or update what this file declares (other applied files stay)')
      .requiredOption(
        '-f, --file <file>',
        'manifests: Workloads, Canaries, MetricTemplates, AlertProviders, Secrets',
      )
      .option('--timeout <duration>', 'how long to wait for the applied workloads to run', '2m')
      .option('--no-wait', 'return once the manifests are handed over, without waiting for the processes'),
  )
    .addHelpText(
      'after',
      "\nWaits until the primary (first apply) or the new revision's canary processes run, printing what it waits for." +
        '\nThe manifest format: docs/local/manifest.md. Exit status: 0 applied and running, 1 refused or not running' +
        ' (the reason is printed), 2 unreadable.',
    )
    .action(async (options: { file: string; stateDir?: string; wait?: boolean; timeout?: string }) => {
      const { runLocalApply } = await import('./local-command.js');
      setExitCode(await runLocalApply(options, io));
    });
  stateDir(
    local
      .command('delete')
      .description('remove what a file applied: its canaries, routers and processes')
      .requiredOption(
        '-f, --file <file>',
        'a file applied before (- for the one applied from standard input)',
      ),
  )
    .addHelpText('after', '\nOther files stay applied. Exit status: 0 deleted, 1 not applied or not running.')
    .action(async (options: { file: string; stateDir?: string }) => {
      const { runLocalDelete } = await import('./local-command.js');
      setExitCode(await runLocalDelete(options, io));
    });
  stateDir(local.command('status').description('phase, weights and replicas of every local canary'))
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (options: { stateDir?: string; output?: string }) => {
      const { runLocalStatus } = await import('./local-command.js');
      setExitCode(await runLocalStatus(options, io));
    });
  stateDir(
    local.command('down').description('stop local mode: routers and processes (the state is kept)'),
  ).action(async (options: { stateDir?: string }) => {
    const { runLocalDown } = await import('./local-command.js');
    setExitCode(await runLocalDown(options, io));
  });
  stateDir(local.command('serve', { hidden: true }).description('the local-mode daemon (started by apply)'))
    .option('--base-dir <dir>', 'directory relative Workload cwd values resolve against')
    .action(async (options: { stateDir?: string; baseDir?: string }) => {
      const { runLocalServe } = await import('./local-command.js');
      setExitCode(await runLocalServe(options));
    });

  const metrics = program.command('metrics').description('work with MetricTemplates and built-in checks');
  metrics
    .command('query')
    .description(
      'render a MetricTemplate (or a built-in check), show the final query, run it and print the value',
    )
    .option('-f, --file <file>', 'a file (or - for standard input) holding one MetricTemplate')
    .addOption(
      new Option('--builtin <check>', 'query a built-in check instead of a template').choices([
        'request-success-rate',
        'request-duration',
      ]),
    )
    .option('--var <KEY=VALUE>', 'a template variable ({{ variables.KEY }}); repeat for more', collect, [])
    .option('--namespace <namespace>', "{{ namespace }} (default: the template's namespace)")
    .option('--target <name>', '{{ target }}: the canary target (Deployment) name')
    .option('--name <name>', '{{ name }}: the canary name (default: --target)')
    .option('--service <name>', '{{ service }} (default: --target)')
    .option('--ingress <name>', '{{ ingress }} (default: --target)')
    .option('--route <name>', '{{ route }} (default: --target)')
    .option('--interval <duration>', '{{ interval }} and the query window', '1m')
    .option(
      '--mesh-provider <provider>',
      'router whose built-in queries --builtin uses, as the controller flag',
      DEFAULT_MESH_PROVIDER,
    )
    .option('--metrics-server <url>', 'Prometheus for --builtin', 'http://prometheus:9090')
    .option(
      '--secret-file <file>',
      "the Secret named by the template's secretRef, as a YAML or JSON manifest",
    )
    .option('--kubeconfig <file>', 'read the Secret from this cluster (default: $KUBECONFIG)')
    .option('--context <name>', 'kubeconfig context to use')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  vireo metrics query -f latency.yaml --namespace test --target podinfo --interval 1m\n' +
        '  vireo metrics query -f errors.yaml --target podinfo --var route=checkout --secret-file prom-auth.yaml\n' +
        '  vireo metrics query --builtin request-success-rate --mesh-provider nginx \\\n' +
        '      --metrics-server http://localhost:9090 --namespace test --target podinfo\n' +
        '\nExit status: 0 with a value, 1 when the query failed (the error and a hint are printed), 2 for\n' +
        'unreadable files or wrong flags. See docs/metrics/ for each provider.',
    )
    .action(async (options: MetricsQueryOptions) => {
      const { runMetricsQuery } = await import('./metrics-command.js');
      setExitCode(await runMetricsQuery(options, io));
    });

  return program;
}

/**
 * Flagger's Deployments pass Go-style flags (`-mesh-provider=nginx`); commander wants two dashes.
 * Accepting both lets a Flagger Deployment's args run unchanged.
 */
export function normalizeGoFlags(argv: readonly string[]): string[] {
  return argv.map((argument) => (/^-[a-z][a-z-]+(=|$)/.test(argument) ? `-${argument}` : argument));
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Runs the CLI and returns the exit status; never throws. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(
      argv[2] === 'controller' ? [...argv.slice(0, 3), ...normalizeGoFlags(argv.slice(3))] : [...argv],
    );
    return exitCode;
  } catch (cause) {
    if (cause instanceof CommanderError) {
      // Help and version exit 0; usage mistakes exit 2, like unreadable input.
      return cause.exitCode === 0 ? 0 : 2;
    }
    if (cause instanceof VireoError) {
      // Messages quote names and values from the input: nothing in them may drive the terminal.
      io.stderr(`vireo: ${printableLines(cause.message)} [${cause.code}]\n`);
      // A provider name refused here came from a flag (files are validated first): a usage mistake.
      return ['E_UNREADABLE_INPUT', 'E_USAGE', 'E_UNKNOWN_ROUTER', 'E_ROUTER_NOT_IMPLEMENTED'].includes(
        cause.code,
      )
        ? 2
        : 1;
    }
    io.stderr(
      `vireo: unexpected error: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}\n`,
    );
    return 70;
  }
}
