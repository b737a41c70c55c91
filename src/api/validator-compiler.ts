/** Compiles the schemas with ajv, at run time or into a standalone module at build time. */
import { Ajv, type ValidateFunction } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { SCHEMAS, SchemaValidator, VALIDATED_KINDS, type ValidatedKind } from './validation.js';

export interface CompileOptions {
  /**
   * Ajv's strict mode checks the schemas themselves (unknown keywords, ambiguous types). It makes
   * compilation slower, so programs compile without it and a unit test compiles with it.
   */
  strictSchema?: boolean;
  /** Keep the generated source, for `compiledValidatorsModule`. */
  emitSource?: boolean;
}

function createAjv(options: CompileOptions = {}): Ajv {
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

export function compileSchemaValidator(options: CompileOptions = {}): SchemaValidator {
  const ajv = createAjv(options);
  const compile = (kind: ValidatedKind): ValidateFunction => ajv.compile(SCHEMAS[kind]);
  return new SchemaValidator({
    Canary: compile('Canary'),
    MetricTemplate: compile('MetricTemplate'),
    AlertProvider: compile('AlertProvider'),
    Workload: compile('Workload'),
  });
}

/** The source of an ES module exporting the three compiled validators by kind. */
export function compiledValidatorsModule(): string {
  const ajv = createAjv({ emitSource: true });
  for (const kind of VALIDATED_KINDS) ajv.addSchema(SCHEMAS[kind], kind);
  const generate = standaloneCode as unknown as (ajv: Ajv, refs: Record<string, string>) => string;
  const code = generate(ajv, Object.fromEntries(VALIDATED_KINDS.map((kind) => [kind, kind])));
  // Ajv's standalone output require()s small runtime helpers (string length in code points); an
  // ES module gets require from createRequire.
  const preamble = [
    '// Generated from src/api/schema by npm run build. Do not edit.',
    "import { createRequire } from 'node:module';",
    'const require = createRequire(import.meta.url);',
  ].join('\n');
  return `${preamble}\n${code.replace(/^"use strict";/, '')}`;
}
