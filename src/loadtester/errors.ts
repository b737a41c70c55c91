/**
 * Why the loadtester refused a request. Each refusal carries the HTTP status it answers with and a
 * stable code (sent in the `x-vireo-error-code` header), and its message is the one-line reason the
 * caller reads in the response body and in Flagger's "Halt … failed <body>" event.
 */
import { VireoError } from '../shared/errors.js';

export class LoadtesterRejection extends VireoError {
  readonly statusCode: number;

  constructor(code: string, statusCode: number, message: string) {
    super(code, message);
    this.statusCode = statusCode;
  }
}

/** The payload or its metadata does not describe a task we can run (400). */
export class InvalidTaskError extends LoadtesterRejection {
  constructor(message: string) {
    super('E_LOADTESTER_INVALID_TASK', 400, message);
  }
}

/** The command text uses shell syntax, which would not work without a shell (400). */
export class ShellSyntaxError extends LoadtesterRejection {
  constructor(message: string) {
    super('E_LOADTESTER_SHELL_SYNTAX', 400, message);
  }
}

/** The program, subcommand or option is outside the allow-list (403). */
export class CommandNotAllowedError extends LoadtesterRejection {
  constructor(message: string) {
    super('E_LOADTESTER_COMMAND_NOT_ALLOWED', 403, message);
  }
}

/** The payload's namespace does not match `--namespace-regexp` (403 "Forbidden", as Flagger). */
export class NamespaceForbiddenError extends LoadtesterRejection {
  constructor() {
    super('E_LOADTESTER_NAMESPACE_FORBIDDEN', 403, 'Forbidden');
  }
}

/** `--max-concurrent` tasks are already running (429). */
export class TooManyTasksError extends LoadtesterRejection {
  constructor(limit: number) {
    super('E_LOADTESTER_BUSY', 429, `too many commands running (limit ${limit}); retry later`);
  }
}

/** The gate state could not be written; the change holds in memory only (500). */
export class GateStateError extends VireoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_LOADTESTER_GATE_STATE', message, options);
  }
}

/** The loadtester is stopping and takes no new tasks (503). */
export class ShuttingDownError extends LoadtesterRejection {
  constructor() {
    super('E_LOADTESTER_SHUTTING_DOWN', 503, 'the loadtester is shutting down');
  }
}

/** A task names a server outside the allowed targets (403). */
export class TargetNotAllowedError extends LoadtesterRejection {
  constructor(message: string) {
    super('E_LOADTESTER_TARGET_NOT_ALLOWED', 403, message);
  }
}

/** A request carrying an Origin header: a web page, perhaps on another site, is driving the browser (403). */
export class RequestFromBrowserError extends LoadtesterRejection {
  constructor() {
    super(
      'E_LOADTESTER_BROWSER_REQUEST',
      403,
      'requests sent by web browsers (with an Origin header) are refused: a web page must not drive the loadtester',
    );
  }
}

/** Too many gates are open already (the state file stays bounded) (429). */
export class TooManyGatesError extends LoadtesterRejection {
  constructor(limit: number) {
    super('E_LOADTESTER_TOO_MANY_GATES', 429, `too many open gates (limit ${limit}); close some first`);
  }
}
