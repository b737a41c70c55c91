/**
 * Base class for every error Vireo throws on purpose. `code` is stable (tests, JSON output
 * and docs refer to it); `message` says what happened and what to do about it. Every code has an
 * entry in src/shared/error-catalog.ts, from which docs/errors.md is generated (a test checks both).
 */
export class VireoError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Input that could not be read at all: a missing file, a directory without manifests, bad YAML. */
export class UnreadableInputError extends VireoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_UNREADABLE_INPUT', message, options);
  }
}

/** A command-line usage mistake: the message names the flag and the accepted values. */
export class UsageError extends VireoError {
  constructor(message: string) {
    super('E_USAGE', message);
  }
}

/** A manifest that parsed but does not describe a runnable canary. */
export class InvalidSpecError extends VireoError {
  constructor(message: string) {
    super('E_INVALID_SPEC', message);
  }
}
