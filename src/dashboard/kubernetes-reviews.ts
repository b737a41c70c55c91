/**
 * TokenReview and SubjectAccessReview against the API server, with the dashboard's own
 * credentials (which need `create` on tokenreviews and subjectaccessreviews: docs/dashboard.md "RBAC").
 */
import type { KubeClient, KubeObject } from '../platforms/kubernetes/client.js';
import type { ResourceType } from '../platforms/kubernetes/resources.js';
import type { KubernetesReviews, Permission, Principal } from './auth.js';

const TOKEN_REVIEWS: ResourceType = {
  group: 'authentication.k8s.io',
  version: 'v1',
  plural: 'tokenreviews',
  kind: 'TokenReview',
  namespaced: false,
};
const SUBJECT_ACCESS_REVIEWS: ResourceType = {
  group: 'authorization.k8s.io',
  version: 'v1',
  plural: 'subjectaccessreviews',
  kind: 'SubjectAccessReview',
  namespaced: false,
};

type TokenReview = KubeObject & {
  status?: {
    authenticated?: boolean;
    user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  };
};
type AccessReview = KubeObject & { status?: { allowed?: boolean } };

export class ClusterReviews implements KubernetesReviews {
  constructor(private readonly client: KubeClient) {}

  async tokenReview(token: string): Promise<Principal | undefined> {
    const review = await this.client.create<TokenReview>(TOKEN_REVIEWS, {
      metadata: {},
      spec: { token },
    } as unknown as TokenReview);
    const user = review.status?.user;
    if (review.status?.authenticated !== true || user?.username === undefined) return undefined;
    return {
      name: user.username,
      kind: 'kubernetes',
      groups: user.groups ?? [],
      ...(user.uid === undefined ? {} : { uid: user.uid }),
      ...(user.extra === undefined ? {} : { extra: user.extra }),
    };
  }

  async subjectAccessReview(principal: Principal, permission: Permission): Promise<boolean> {
    const review = await this.client.create<AccessReview>(SUBJECT_ACCESS_REVIEWS, {
      metadata: {},
      spec: {
        user: principal.name,
        groups: principal.groups,
        ...(principal.uid === undefined ? {} : { uid: principal.uid }),
        ...(principal.extra === undefined ? {} : { extra: principal.extra }),
        resourceAttributes: {
          verb: permission.verb,
          group: permission.group,
          resource: permission.resource,
          ...(permission.namespace === undefined ? {} : { namespace: permission.namespace }),
        },
      },
    } as unknown as AccessReview);
    return review.status?.allowed === true;
  }
}
