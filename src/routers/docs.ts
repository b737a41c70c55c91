/**
 * The table of docs/routers/README.md, rendered from the router table so the two cannot drift
 * (docs.test.ts compares them; `npx tsx src/routers/generate-docs.ts` rewrites the section).
 */
import { ROUTER_NAMES, ROUTER_TRAITS, type RouterTraits } from './traits.js';

export const DOCS_START = '<!-- router-table:start (generated from src/routers/traits.ts) -->';
export const DOCS_END = '<!-- router-table:end -->';

const yesNo = (value: boolean): string => (value ? 'yes' : 'no');

function status(router: RouterTraits): string {
  if (router.implementedOn.length === 0) return 'not yet';
  return router.implementedOn
    .map((platform) => (platform === 'local' ? '`vireo local`' : platform))
    .join(', ');
}

function match(router: RouterTraits): string {
  if (router.dropsMatch) return 'dropped (blue/green)';
  if (router.headerMatch.length === 0) return 'no A/B';
  return router.headerMatch.join(', ');
}

function mirroring(router: RouterTraits): string {
  const where = [router.mirrorInCanary ? 'canary' : '', router.mirrorInBlueGreen ? 'blue/green' : ''].filter(
    (item) => item !== '',
  );
  if (where.length === 0) return 'no';
  return `${where.join(', ')}${router.weightedMirror ? ' (weighted)' : ''}`;
}

function affinity(router: RouterTraits): string {
  if (!router.sessionAffinity) return 'no';
  return router.primarySessionAffinity ? 'yes, with primary cookie' : 'yes';
}

function iterations(router: RouterTraits): string {
  if (router.weights) return 'yes';
  return `no (iterations default ${router.defaultIterations ?? 0})`;
}

function needs(router: RouterTraits): string {
  const references = router.requiredReferences.map((reference) => `\`${reference.path.join('.')}\``);
  if (router.knativeTarget) references.push('a Knative Service target');
  return references.length === 0 ? '' : references.join(', ');
}

function writes(router: RouterTraits): string {
  const kinds = router.writes.map(
    (kind) => `${kind.kind} (${kind.group === '' ? 'v1' : `${kind.group}/${kind.version}`})`,
  );
  if (router.writesServices) kinds.unshift('Services');
  return kinds.length === 0 ? '' : kinds.join(', ');
}

/** The markdown table, one row per provider name, in table order. */
export function renderRouterTable(): string {
  const header = [
    '| provider | Vireo implements | weights | header match | cookie match | mirroring | session affinity | needs | writes (watched, RBAC) | built-in queries |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const rows = ROUTER_NAMES.map((name) => {
    const router = ROUTER_TRAITS[name];
    return `| \`${name}\` | ${status(router)} | ${iterations(router)} | ${match(router)} | ${yesNo(router.cookieMatch)} | ${mirroring(router)} | ${affinity(router)} | ${needs(router)} | ${writes(router)} | ${router.queryFamily} |`;
  });
  return [...header, ...rows].join('\n');
}

/** The README with its generated section replaced (or undefined when the markers are missing). */
export function withRouterTable(readme: string): string | undefined {
  const start = readme.indexOf(DOCS_START);
  const end = readme.indexOf(DOCS_END);
  if (start < 0 || end < start) return undefined;
  return `${readme.slice(0, start + DOCS_START.length)}\n${renderRouterTable()}\n${readme.slice(end)}`;
}
