/**
 * Runtime validation compiled from the same schemas as the types and the CRDs. Unlike the API
 * server, it rejects unknown fields: the API server would silently prune them, and a pruned
 * `interval` is exactly the kind of mistake users lose hours on.
 *
 * `npm run build` also writes the compiled validators as plain JavaScript
 * (dist/api/compiled-validators.js, see compiled-validators.ts), so the CLI skips compilation.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { AlertProvider } from './schema/alert-provider.js';
import { Canary } from './schema/canary.js';
import { MetricTemplate } from './schema/metric-template.js';

export const FLAGGER_KINDS = ['Canary', 'MetricTemplate', 'AlertProvider'] as const;
export type FlaggerKind = (typeof FLAGGER_KINDS)[number];

const SCHEMAS: Record<FlaggerKind, object> = { Canary, MetricTemplate, AlertProvider };

export interface ValidatorOptions {
  /**
   * Ajv's strict mode checks the schemas themselves (unknown keywords, ambiguous types). It makes
   * compilation slower, so the CLI runs without it and a unit test runs with it.
   */
  strictSchema?: boolean;
  /** Keep the generated source, for `compiledValidatorsModule`. */
  emitSource?: boolean;
}

function createAjv(options: ValidatorOptions = {}): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: options.strictSchema ?? false,
    // Flagger's oneOf branches (copied into our schema for parity) use `required` without `type`.
    strictTypes: false,
    strictRequired: false,
    // Formats (url, date-time, Istio's no-op "string") are checked by the semantic rules, where
    // the message can say what to write; kube-apiserver ignores these formats too.
    validateFormats: false,
    ...(options.emitSource === true ? { code: { source: true, esm: true } } : {}),
  });
  for (const keyword of [
    'x-kubernetes-int-or-string',
    'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-validations',
    'x-vireo-hint',
    'x-vireo-one-of',
  ]) {
    ajv.addKeyword({ keyword });
  }
  // Flagger decodes these numbers into Go ints: 2.5 passes its CRD and then breaks the controller.
  ajv.addKeyword({
    keyword: 'x-vireo-integer',
    type: 'number',
    schemaType: 'boolean',
    macro: (enabled: boolean) => (enabled ? { multipleOf: 1 } : true),
  });
  return ajv;
}

export type SchemaIssue = ErrorObject;
type Validators = Record<FlaggerKind, ValidateFunction>;

/** Validates the three kinds. Build with `SchemaValidator.load()` in programs, `new` in tests. */
export class SchemaValidator {
  private readonly validators: Validators;

  /** Compiles the schemas now (about 0.2 s). */
  constructor(options: ValidatorOptions = {}, precompiled?: Validators) {
    if (precompiled !== undefined) {
      this.validators = precompiled;
      return;
    }
    const ajv = createAjv(options);
    this.validators = {
      Canary: ajv.compile(SCHEMAS.Canary),
      MetricTemplate: ajv.compile(SCHEMAS.MetricTemplate),
      AlertProvider: ajv.compile(SCHEMAS.AlertProvider),
    };
  }

  /** Uses the validators compiled at build time when they exist, else compiles. */
  static async load(): Promise<SchemaValidator> {
    try {
      const compiled = (await import(COMPILED_MODULE)) as Partial<Validators>;
      if (FLAGGER_KINDS.every((kind) => typeof compiled[kind] === 'function')) {
        return new SchemaValidator({}, compiled as Validators);
      }
    } catch {
      // Running from sources (tsx, tests): nothing was precompiled.
    }
    return new SchemaValidator();
  }

  /** Returns every schema violation of `object` (empty when valid). */
  validate(kind: FlaggerKind, object: unknown): SchemaIssue[] {
    const validator = this.validators[kind];
    return validator(object) ? [] : [...(validator.errors ?? [])];
  }

  /** A kind's schema, for navigation (suggestions, messages). */
  schemaOf(kind: FlaggerKind): object {
    return SCHEMAS[kind];
  }
}

/** A variable, so that TypeScript does not try to resolve a file that exists only in dist/. */
const COMPILED_MODULE = './compiled-validators.js';

/** The ESM source of the three compiled validators, exported by kind. */
export function compiledValidatorsModule(): string {
  const ajv = createAjv({ emitSource: true });
  for (const kind of FLAGGER_KINDS) ajv.addSchema(SCHEMAS[kind], kind);
  const generate = standaloneCode as unknown as (ajv: Ajv, refs: Record<string, string>) => string;
  return generate(ajv, Object.fromEntries(FLAGGER_KINDS.map((kind) => [kind, kind])));
}
