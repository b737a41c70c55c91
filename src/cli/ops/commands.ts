/**
 * `vireo get`, `vireo status` and `vireo explain` (docs/cli-operations.md): each parses kubectl's
 * flags into a scope, asks the operations port, and prints. Which backend answers (the cluster of
 * the kubeconfig, or local mode's state directory with `--local`) is decided once, in `openBackend`.
 */
import { UsageError } from '../../shared/errors.js';
import { printable } from '../../shared/printable.js';
import type { CliIo } from '../main.js';
import { decisionsSince, formatTimeline, parseSince } from './explain.js';
import type { CanaryActions, CanaryObject, CanaryScope, OperationsBackend } from './port.js';
import { canaryRows, formatCanaries, formatCanary, formatTable, type OutputFormat } from './printer.js';
import { formatStatus } from './status.js';

/** The flags every operations command takes. */
export interface TargetFlags {
  readonly namespace?: string;
  readonly allNamespaces?: boolean;
  readonly context?: string;
  readonly kubeconfig?: string;
  readonly local?: boolean;
  readonly stateDir?: string;
}

export interface OpsDeps {
  readonly io: CliIo;
  readonly openBackend: (flags: TargetFlags) => Promise<OperationsBackend & CanaryActions>;
  readonly now: () => Date;
  /** Aborted by Ctrl-C: ends `-w` and `--wait`. */
  readonly stop: AbortSignal;
  /** Asks a yes/no question on the terminal; undefined when there is none (the actions then need --yes). */
  readonly confirm?: (question: string) => Promise<boolean>;
  /** How often `--wait` looks (default 1 s). */
  readonly pollMs?: number;
}

export async function openBackend(flags: TargetFlags): Promise<OperationsBackend & CanaryActions> {
  if (flags.local === true || flags.stateDir !== undefined) {
    if (flags.context !== undefined || flags.kubeconfig !== undefined)
      throw new UsageError('--local reads the state directory: leave out --context and --kubeconfig');
    const { stateDirectoryOf } = await import('../local-command.js');
    const { LocalBackend } = await import('./local-backend.js');
    return new LocalBackend(
      stateDirectoryOf(flags.stateDir === undefined ? {} : { stateDir: flags.stateDir }),
    );
  }
  const { ClusterBackend } = await import('./cluster-backend.js');
  return ClusterBackend.open({
    ...(flags.kubeconfig === undefined ? {} : { kubeconfig: flags.kubeconfig }),
    ...(flags.context === undefined ? {} : { context: flags.context }),
  });
}

const CANARY_RESOURCES = new Set(['canaries', 'canary', 'cn', 'canaries.flagger.app', 'canary.flagger.app']);

export function outputFormatOf(output: string | undefined, allowed: readonly string[]): OutputFormat {
  if (output === undefined) return 'table';
  if (!allowed.includes(output))
    throw new UsageError(
      `-o: unknown output format "${printable(output)}": use one of ${allowed.join(', ')}`,
    );
  return output as OutputFormat;
}

function scopeOf(flags: TargetFlags & { selector?: string }, backend: OperationsBackend): CanaryScope {
  if (flags.allNamespaces === true && flags.namespace !== undefined)
    throw new UsageError('-A lists every namespace: leave out -n, or leave out -A');
  return {
    namespace: flags.allNamespaces === true ? undefined : (flags.namespace ?? backend.defaultNamespace),
    allNamespaces: flags.allNamespaces === true,
    ...(flags.selector === undefined ? {} : { selector: flags.selector }),
  };
}

async function withBackend(
  deps: OpsDeps,
  flags: TargetFlags,
  use: (backend: OperationsBackend) => Promise<number>,
): Promise<number> {
  const backend = await deps.openBackend(flags);
  try {
    return await use(backend);
  } finally {
    await backend.close();
  }
}

export interface GetFlags extends TargetFlags {
  readonly output?: string;
  readonly selector?: string;
  readonly watch?: boolean;
}

export async function runGet(
  resource: string | undefined,
  name: string | undefined,
  flags: GetFlags,
  deps: OpsDeps,
): Promise<number> {
  if (resource !== undefined && !CANARY_RESOURCES.has(resource))
    throw new UsageError(`get: unknown resource "${printable(resource)}": vireo gets canaries (canary, cn)`);
  const format = outputFormatOf(flags.output, ['wide', 'json', 'yaml', 'name']);
  return await withBackend(deps, flags, async (backend) => {
    const scope = scopeOf(flags, backend);
    const wide = format === 'wide';
    const print = (canaries: CanaryObject[], header: boolean): void => {
      if (format === 'table' || format === 'wide') {
        const table = formatTable(canaryRows(canaries, { wide, allNamespaces: scope.allNamespaces }));
        // Watched changes come as rows under the first table, as kubectl prints them.
        deps.io.stdout(header ? table : table.slice(table.indexOf('\n') + 1));
      } else if (canaries.length === 1 && name !== undefined)
        deps.io.stdout(formatCanary(canaries[0]!, format));
      else deps.io.stdout(formatCanaries(canaries, format));
    };
    let canaries: CanaryObject[];
    if (name !== undefined) {
      if (scope.allNamespaces) throw new UsageError('get NAME: name one namespace with -n instead of -A');
      canaries = [await backend.get(scope.namespace ?? backend.defaultNamespace, name)];
    } else canaries = await backend.list(scope);
    if (canaries.length === 0 && (format === 'table' || format === 'wide')) {
      deps.io.stderr(
        scope.allNamespaces
          ? 'No resources found\n'
          : `No resources found in ${printable(scope.namespace ?? '')} namespace.\n`,
      );
    } else print(canaries, true);
    if (flags.watch !== true) return 0;
    await backend.watch(
      scope,
      (_change, canary) => {
        if (name !== undefined && canary.metadata.name !== name) return;
        print([canary], false);
      },
      deps.stop,
    );
    return 0;
  });
}

export interface StatusFlags extends TargetFlags {
  readonly output?: string;
  readonly watch?: boolean;
}

export async function runStatus(name: string, flags: StatusFlags, deps: OpsDeps): Promise<number> {
  const format = outputFormatOf(flags.output, ['json']);
  return await withBackend(deps, flags, async (backend) => {
    const namespace =
      scopeOf({ ...flags, allNamespaces: false }, backend).namespace ?? backend.defaultNamespace;
    const show = async (redraw: boolean): Promise<void> => {
      const canary = await backend.get(namespace, name);
      const [decisions, revisions] = await Promise.all([
        backend.decisions(namespace, name),
        backend.revisions(canary),
      ]);
      if (format === 'json') {
        deps.io.stdout(`${JSON.stringify({ canary, revisions, lastDecision: decisions.at(-1) ?? null })}\n`);
        return;
      }
      // Redraws clear the screen (ESC [H ESC [2J) as `watch` does.
      deps.io.stdout(
        `${redraw ? '\u001b[H\u001b[2J' : ''}${formatStatus({ canary, decisions, revisions }, deps.now())}`,
      );
    };
    await show(false);
    if (flags.watch !== true) return 0;
    let pending = Promise.resolve();
    await backend.watch(
      { namespace, allNamespaces: false },
      (_change, canary) => {
        if (canary.metadata.name !== name) return;
        pending = pending
          .then(() => show(true))
          .catch((error: unknown) => {
            deps.io.stderr(
              `vireo status: ${printable(error instanceof Error ? error.message : String(error))}\n`,
            );
          });
      },
      deps.stop,
    );
    await pending;
    return 0;
  });
}

export interface ExplainFlags extends TargetFlags {
  readonly output?: string;
  readonly since?: string;
}

export async function runExplain(name: string, flags: ExplainFlags, deps: OpsDeps): Promise<number> {
  const format = outputFormatOf(flags.output, ['json']);
  const since = flags.since === undefined ? undefined : parseSince(flags.since, deps.now());
  return await withBackend(deps, flags, async (backend) => {
    const namespace =
      scopeOf({ ...flags, allNamespaces: false }, backend).namespace ?? backend.defaultNamespace;
    // The canary first: a wrong name says so, instead of printing an empty history.
    await backend.get(namespace, name);
    const decisions = decisionsSince(await backend.decisions(namespace, name), since);
    deps.io.stdout(
      format === 'json' ? `${JSON.stringify(decisions, null, 2)}\n` : formatTimeline(name, decisions),
    );
    return 0;
  });
}
