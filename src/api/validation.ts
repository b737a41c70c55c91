/**
 * Runtime validation compiled from the same schemas as the types and the CRDs. Unlike the API
 * server, it rejects unknown fields: the API server would silently prune them, and a pruned
 * `interval` is exactly the kind of mistake users lose hours on.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { AlertProvider } from './schema/alert-provider.js';
import { Canary } from './schema/canary.js';
import { MetricTemplate } from './schema/metric-template.js';

export const FLAGGER_KINDS = ['Canary', 'MetricTemplate', 'AlertProvider'] as const;
export type FlaggerKind = (typeof FLAGGER_KINDS)[number];

const SCHEMAS: Record<FlaggerKind, object> = { Canary, MetricTemplate, AlertProvider };

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

// Formats as regular expressions keep compiled validators free of closures.
const ABSOLUTE_URL = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s]+$/;

export interface ValidatorOptions {
  /**
   * Ajv's strict mode checks the schemas themselves (unknown keywords, ambiguous types). It makes
   * compilation about twice as slow, so the CLI runs without it and a unit test runs with it.
   */
  strictSchema?: boolean;
}

export function createAjv(options: ValidatorOptions = {}): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: options.strictSchema ?? false,
    // Flagger's oneOf branches (copied into our schema for parity) use `required` without `type`.
    strictTypes: false,
    strictRequired: false,
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
  // "string" is a no-op format in Flagger's CRD (copied from Istio's); kube-apiserver ignores it too.
  ajv.addFormat('string', true);
  ajv.addFormat('url', ABSOLUTE_URL);
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('date-time', RFC3339);
  return ajv;
}

export type SchemaIssue = ErrorObject;

/** Compiles the three schemas once; validating afterwards costs microseconds per object. */
export class SchemaValidator {
  private readonly validators: Record<FlaggerKind, ValidateFunction>;
  readonly ajv: Ajv;

  constructor(options: ValidatorOptions = {}) {
    this.ajv = createAjv(options);
    this.validators = {
      Canary: this.ajv.compile(SCHEMAS.Canary),
      MetricTemplate: this.ajv.compile(SCHEMAS.MetricTemplate),
      AlertProvider: this.ajv.compile(SCHEMAS.AlertProvider),
    };
  }

  /** Returns every schema violation of `object` (empty when valid). */
  validate(kind: FlaggerKind, object: unknown): SchemaIssue[] {
    const validator = this.validators[kind];
    return validator(object) ? [] : [...(validator.errors ?? [])];
  }

  /** The schema node at a JSON pointer into a kind's schema (for suggestions). */
  schemaOf(kind: FlaggerKind): object {
    return SCHEMAS[kind];
  }
}
