/**
 * Who is asking, and may they (docs/dashboard.md "Authentication"). Two kinds of credential, both
 * only ever in the `Authorization: Bearer` header:
 * - the dashboard's own token (`--token` / VIREO_DASHBOARD_TOKEN): its holder acts with the
 *   dashboard's credentials, like whoever holds the kubeconfig it runs with;
 * - on a cluster, the user's own Kubernetes token: a TokenReview says who it is, and a
 *   SubjectAccessReview per read and per action says what they may do, so a user sees and does
 *   only what their RBAC allows. Both reviews are cached briefly (TTL below).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { VireoError } from '../shared/errors.js';

export interface Principal {
  /** Shown on the page and recorded as who asked for an action. */
  readonly name: string;
  readonly kind: 'token' | 'kubernetes';
  readonly groups: readonly string[];
  readonly uid?: string;
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** One permission, as RBAC names it. */
export interface Permission {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  /** undefined: every namespace (a ClusterRole's reach). */
  readonly namespace: string | undefined;
}

export function describePermission(permission: Permission): string {
  const resource =
    permission.group === '' ? permission.resource : `${permission.resource}.${permission.group}`;
  return `${permission.verb} ${resource} ${permission.namespace === undefined ? 'in all namespaces' : `in namespace ${permission.namespace}`}`;
}

/** A refusal by RBAC: the message names the permission the user lacks. */
export class DashboardForbiddenError extends VireoError {
  constructor(
    readonly principal: Principal,
    readonly permission: Permission,
  ) {
    super(
      'E_DASHBOARD_FORBIDDEN',
      `${principal.name} may not ${describePermission(permission)}: ask for an RBAC Role granting verb "${permission.verb}" on "${permission.resource}" in API group "${permission.group}"`,
    );
  }
}

/** The two reviews the Kubernetes credential needs; the cluster implementation calls the API server. */
export interface KubernetesReviews {
  /** undefined: the API server does not know the token (or it expired). */
  tokenReview(token: string): Promise<Principal | undefined>;
  subjectAccessReview(principal: Principal, permission: Permission): Promise<boolean>;
}

export interface AuthOptions {
  /** The dashboard's own bearer token; undefined when not configured. */
  readonly token: string | undefined;
  /** Set on a cluster: users' own Kubernetes tokens are accepted too. */
  readonly kubernetes: KubernetesReviews | undefined;
  readonly now?: () => number;
  readonly ttlMs?: number;
}

const REVIEW_TTL_MS = 10_000;
const MAX_CACHED = 10_000;

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

export class DashboardAuth {
  private readonly tokenDigest: Buffer | undefined;
  private readonly now: () => number;
  private readonly ttlMs: number;
  /** Keyed by the token's SHA-256, never by the token itself. */
  private readonly tokenReviews = new Map<string, { principal: Principal | undefined; until: number }>();
  private readonly accessReviews = new Map<string, { allowed: boolean; until: number }>();

  constructor(private readonly options: AuthOptions) {
    this.tokenDigest = options.token === undefined ? undefined : digest(options.token);
    this.now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs ?? REVIEW_TTL_MS;
  }

  /** Whether any credential can be accepted at all (a dashboard beyond loopback needs one). */
  get configured(): boolean {
    return this.options.token !== undefined || this.options.kubernetes !== undefined;
  }

  /** The principal of an `Authorization` header, or undefined (answered 401). */
  async authenticate(header: string | undefined): Promise<Principal | undefined> {
    const match = /^Bearer ([\x21-\x7e]{1,8192})$/.exec(header ?? '');
    if (match === null) return undefined;
    const token = match[1]!;
    const presented = digest(token);
    if (this.tokenDigest !== undefined && timingSafeEqual(presented, this.tokenDigest))
      return { name: 'dashboard-token', kind: 'token', groups: [] };
    const reviews = this.options.kubernetes;
    if (reviews === undefined) return undefined;
    const key = presented.toString('hex');
    const cached = this.tokenReviews.get(key);
    if (cached !== undefined && cached.until > this.now()) return cached.principal;
    const principal = await reviews.tokenReview(token);
    remember(this.tokenReviews, key, { principal, until: this.now() + this.ttlMs });
    return principal;
  }

  /** Throws DashboardForbiddenError naming the permission when RBAC refuses it. */
  async authorize(principal: Principal, permission: Permission): Promise<void> {
    if (!(await this.allowed(principal, permission)))
      throw new DashboardForbiddenError(principal, permission);
  }

  async allowed(principal: Principal, permission: Permission): Promise<boolean> {
    // The dashboard's own token acts with the dashboard's own credentials.
    if (principal.kind === 'token') return true;
    const reviews = this.options.kubernetes;
    if (reviews === undefined) return false;
    const key = JSON.stringify([principal.uid ?? principal.name, principal.groups, permission]);
    const cached = this.accessReviews.get(key);
    if (cached !== undefined && cached.until > this.now()) return cached.allowed;
    const allowed = await reviews.subjectAccessReview(principal, permission);
    remember(this.accessReviews, key, { allowed, until: this.now() + this.ttlMs });
    return allowed;
  }
}

function remember<T>(cache: Map<string, T>, key: string, value: T): void {
  // Bounded: a flood of distinct tokens cannot grow the process without end.
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
}
