/**
 * Local mode's `Workload` (local.vireo.dev/v1alpha1): how to run a service's processes. Checked by
 * `vireo validate` and by `vireo local apply` with the same validator as the Flagger kinds, so a
 * mistake prints as `file:line:col: Workload/name spec.field: message` with a suggestion
 * (docs/local/manifest.md).
 */
import { Type, type Static } from '@sinclair/typebox';

/** Local mode's process sets (docs/local/manifest.md). */
import { LOCAL_WORKLOAD_API_VERSION } from './workload-api.js';

export { LOCAL_WORKLOAD_API_VERSION, LOCAL_WORKLOAD_GROUP } from './workload-api.js';

export const WorkloadSpec = Type.Object(
  {
    command: Type.String({ minLength: 1, description: 'Program to run (looked up in PATH).' }),
    args: Type.Optional(Type.Array(Type.String())),
    env: Type.Optional(Type.Record(Type.String(), Type.String())),
    cwd: Type.Optional(
      Type.String({ description: "Working directory (default: the manifest's directory)." }),
    ),
    replicas: Type.Optional(Type.Integer({ minimum: 0, maximum: 64, default: 1 })),
    port: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 65535,
        description:
          'Base port: replica i listens on port + i (and the primary copy on others). Default: free ports.',
      }),
    ),
    readiness: Type.Optional(
      Type.Object(
        {
          httpPath: Type.String({
            pattern: '^/',
            description: 'GET path that answers 2xx when ready.',
            'x-vireo-hint': "must be a path starting with '/', such as /readyz",
          }),
          timeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
          periodMs: Type.Optional(Type.Integer({ minimum: 10 })),
        },
        { additionalProperties: false },
      ),
    ),
    router: Type.Optional(
      Type.Union([Type.Literal('builtin'), Type.Literal('nginx')], {
        description: 'builtin (default): Vireo proxies; nginx: a real nginx that Vireo configures.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const WorkloadManifest = Type.Object(
  {
    apiVersion: Type.Literal(LOCAL_WORKLOAD_API_VERSION),
    kind: Type.Literal('Workload'),
    metadata: Type.Object(
      { name: Type.String({ minLength: 1 }), namespace: Type.Optional(Type.String()) },
      { additionalProperties: true },
    ),
    spec: WorkloadSpec,
  },
  { additionalProperties: false },
);

export type WorkloadSpec = Static<typeof WorkloadSpec>;
export type WorkloadManifest = Static<typeof WorkloadManifest>;
