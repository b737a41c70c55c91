/**
 * Runtime validation compiled from the same schemas as the types and the CRDs. Unlike the API
 * server, it rejects unknown fields: the API server would silently prune them, and a pruned
 * `interval` is exactly the kind of mistake users lose hours on.
 *
 * Programs call `SchemaValidator.load()`, which uses the validators that `npm run build` compiled
 * to plain JavaScript (dist/api/compiled-validators.js) and loads ajv's compiler only when they
 * are missing (running from sources). Tests call `compileSchemaValidator()` directly.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { AlertProvider } from './schema/alert-provider.js';
import { Canary } from './schema/canary.js';
import { MetricTemplate } from './schema/metric-template.js';
import { WorkloadManifest } from './schema/workload.js';

export const FLAGGER_KINDS = ['Canary', 'MetricTemplate', 'AlertProvider'] as const;
export type FlaggerKind = (typeof FLAGGER_KINDS)[number];
/** The Flagger kinds and local mode's Workload: every kind `vireo validate` checks. */
export const VALIDATED_KINDS = [...FLAGGER_KINDS, 'Workload'] as const;
export type ValidatedKind = (typeof VALIDATED_KINDS)[number];

export const SCHEMAS: Readonly<Record<ValidatedKind, object>> = {
  Canary,
  MetricTemplate,
  AlertProvider,
  Workload: WorkloadManifest,
};

export type SchemaIssue = ErrorObject;
export type Validators = Readonly<Record<ValidatedKind, ValidateFunction>>;

/** A variable, so that TypeScript does not try to resolve a file that exists only in dist/. */
const COMPILED_MODULE = './compiled-validators.js';

/** Compiled from sources once per process: it takes about 0.1 s, and tests run the CLI hundreds of times. */
let compiledFromSources: SchemaValidator | undefined;

export class SchemaValidator {
  constructor(private readonly validators: Validators) {}

  /** The validators compiled at build time when they exist, else compiled now (about 0.1 s). */
  static async load(): Promise<SchemaValidator> {
    try {
      const compiled = (await import(COMPILED_MODULE)) as Partial<Validators>;
      if (VALIDATED_KINDS.every((kind) => typeof compiled[kind] === 'function')) {
        return new SchemaValidator(compiled as Validators);
      }
    } catch {
      // Running from sources (tsx, tests): nothing was precompiled.
    }
    const { compileSchemaValidator } = await import('./validator-compiler.js');
    compiledFromSources ??= compileSchemaValidator();
    return compiledFromSources;
  }

  /** Returns every schema violation of `object` (empty when valid). */
  validate(kind: ValidatedKind, object: unknown): SchemaIssue[] {
    const validator = this.validators[kind];
    return validator(object) ? [] : [...(validator.errors ?? [])];
  }

  /** A kind's schema, for navigation (suggestions, messages). */
  schemaOf(kind: ValidatedKind): object {
    return SCHEMAS[kind];
  }
}
