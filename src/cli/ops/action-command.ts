/**
 * `vireo promote|abort|pause|resume|retry NAME --reason "..."` (docs/cli-operations.md "Acting on a
 * canary"): asks for confirmation unless `--yes`, writes the request through the backend's
 * `CanaryActions.act` (the same the dashboard calls), and with `--wait` follows the canary until
 * the controller has answered and the action's outcome is known.
 */
import { parseGoDuration } from '../../api/duration.js';
import type { Decision } from '../../engine/decisions.js';
import { REQUEST_DONE_ANNOTATION } from '../../engine/operator-requests.js';
import { UsageError, VireoError } from '../../shared/errors.js';
import { printable } from '../../shared/printable.js';
import type { OpsDeps, TargetFlags } from './commands.js';
import type { ActionReceipt, CanaryAction, CanaryObject } from './port.js';

export interface ActionFlags extends TargetFlags {
  readonly reason?: string;
  readonly yes?: boolean;
  readonly wait?: boolean;
  readonly timeout?: string;
}

export const DEFAULT_WAIT_TIMEOUT = '30m';
const POLL_MS = 1000;

/** What each action does, for the confirmation question. */
const ACTION_WORDS: Readonly<Record<CanaryAction, string>> = {
  promote: 'skip the rest of its analysis and promote it now',
  abort: 'roll it back now',
  pause: 'hold it at its current weight (no checks run, no failure counted)',
  resume: 'let its analysis go on',
  retry: 'analyse its failed revision again from weight 0',
};

export class ConfirmationRequiredError extends VireoError {
  constructor(message: string) {
    super('E_CONFIRMATION_REQUIRED', message);
  }
}

export class WaitTimeoutError extends VireoError {
  constructor(message: string) {
    super('E_WAIT_TIMEOUT', message);
  }
}

function phaseOf(canary: CanaryObject): string {
  return canary.status?.phase ?? 'not initialized';
}

export async function runAction(
  action: CanaryAction,
  name: string,
  flags: ActionFlags,
  deps: OpsDeps,
): Promise<number> {
  if (flags.reason === undefined || flags.reason.trim() === '')
    throw new UsageError(
      `${action}: --reason is required: say why (it is kept in the decision history), e.g. --reason "checked the dashboards"`,
    );
  const timeoutMs = parseGoDuration(flags.timeout ?? DEFAULT_WAIT_TIMEOUT);
  if (timeoutMs === undefined || timeoutMs <= 0)
    throw new UsageError(`--timeout: "${printable(flags.timeout ?? '')}" is not a duration: use 10m, 1h30m`);
  const backend = await deps.openBackend(flags);
  try {
    const namespace = flags.namespace ?? backend.defaultNamespace;
    const canary = await backend.get(namespace, name);
    if (flags.yes !== true) {
      const question = `${action}: ${ACTION_WORDS[action]}: canary ${printable(name)} in namespace ${printable(namespace)} (${printable(phaseOf(canary))}, canary weight ${canary.status?.canaryWeight ?? 0}%), on ${printable(backend.where)}? [y/N] `;
      if (deps.confirm === undefined)
        throw new ConfirmationRequiredError(
          `${action}: no terminal to ask for confirmation on: pass --yes to ${action} canary ${printable(name)} without a question`,
        );
      if (!(await deps.confirm(question))) {
        deps.io.stderr(`${action}: not confirmed; nothing written\n`);
        return 1;
      }
    }
    const receipt = await backend.act(namespace, name, { action, reason: flags.reason });
    deps.io.stdout(
      `${action} requested for canary ${printable(name)} in namespace ${printable(namespace)} by ${printable(receipt.by)} (id ${receipt.id}): wrote ${receipt.wrote}\n`,
    );
    if (flags.wait !== true) {
      deps.io.stdout(
        `the controller acts on its next tick; vireo explain ${printable(name)} -n ${printable(namespace)} shows its answer (or pass --wait)\n`,
      );
      return 0;
    }
    return await waitForOutcome({ backend, namespace, name, receipt, deps, timeoutMs });
  } finally {
    await backend.close();
  }
}

type Outcome = { readonly exit: number; readonly message: string } | undefined;

/** The action's outcome once the controller answered: undefined while it is not known yet. */
function outcomeOf(action: CanaryAction, canary: CanaryObject, answer: Decision): Outcome {
  if (answer.request?.honoured === false) return { exit: 1, message: `not honoured: ${answer.message}` };
  const phase = canary.status?.phase;
  switch (action) {
    case 'pause':
      return { exit: 0, message: `paused at canary weight ${canary.status?.canaryWeight ?? 0}%` };
    case 'resume':
      return { exit: 0, message: 'resumed: the analysis goes on' };
    case 'abort':
      return phase === 'Failed' ? { exit: 0, message: 'rolled back (phase Failed)' } : undefined;
    case 'promote':
    case 'retry':
      if (phase === 'Succeeded') return { exit: 0, message: 'Succeeded' };
      if (phase === 'Failed') return { exit: 1, message: 'Failed: vireo explain shows why' };
      return undefined;
  }
}

async function waitForOutcome(options: {
  backend: Awaited<ReturnType<OpsDeps['openBackend']>>;
  namespace: string;
  name: string;
  receipt: ActionReceipt;
  deps: OpsDeps;
  timeoutMs: number;
}): Promise<number> {
  const { backend, namespace, name, receipt, deps, timeoutMs } = options;
  const deadline = deps.now().getTime() + timeoutMs;
  const clock = (): string => deps.now().toISOString().slice(11, 19);
  let shown = '';
  let answer: Decision | undefined;
  for (;;) {
    const canary = await backend.get(namespace, name);
    const status = canary.status ?? {};
    const line = `${phaseOf(canary)}: canary weight ${status.canaryWeight ?? 0}%, iteration ${status.iterations ?? 0}, failed checks ${status.failedChecks ?? 0}${canary.spec.suspend === true ? ', paused' : ''}`;
    if (line !== shown) {
      deps.io.stdout(`${clock()} ${line}\n`);
      shown = line;
    }
    const answered = canary.metadata.annotations?.[REQUEST_DONE_ANNOTATION] === receipt.id;
    if (answered && answer === undefined) {
      // The history is written in the background on Kubernetes: it may follow the answer by a moment.
      answer = (await backend.decisions(namespace, name)).find(
        (decision) => decision.request?.id === receipt.id,
      );
      if (answer !== undefined) deps.io.stdout(`${clock()} answered: ${printable(answer.message)}\n`);
    }
    if (answer !== undefined) {
      const outcome = outcomeOf(receipt.action, canary, answer);
      if (outcome !== undefined) {
        (outcome.exit === 0 ? deps.io.stdout : deps.io.stderr)(
          `${clock()} ${receipt.action}: ${outcome.message}\n`,
        );
        return outcome.exit;
      }
    }
    if (deps.now().getTime() >= deadline)
      throw new WaitTimeoutError(
        `${receipt.action} ${name}: no outcome within --timeout ${formatMs(timeoutMs)} (${answered ? 'the controller answered; the canary is still ' + phaseOf(canary) : 'the controller has not answered yet: is it running?'}); the request stays written`,
      );
    if (deps.stop.aborted) return 130;
    await pause(deps.pollMs ?? POLL_MS, deps.stop);
  }
}

function formatMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 1000)}s`;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
