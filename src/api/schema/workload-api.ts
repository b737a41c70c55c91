/**
 * Local mode's Workload API names, apart from its schema (workload.ts) so the controller, which
 * only compares apiVersions, does not load the schema library (docs/controller.md "Memory").
 */
export const LOCAL_WORKLOAD_API_VERSION = 'local.vireo.dev/v1alpha1';
export const LOCAL_WORKLOAD_GROUP = 'local.vireo.dev';
