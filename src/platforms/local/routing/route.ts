/**
 * What a local router must do for one service: where it listens, the primary and canary
 * replicas behind it, and the split the engine asked for. Both local routers (the built-in proxy
 * and real nginx) take this same description, so the engine's Router port maps onto either.
 */
import type { AnalysisMatch } from '../../../api/schema/canary.js';

export interface SessionAffinityRule {
  /** Cookie name that pins a client to the canary (spec.analysis.sessionAffinity.cookieName). */
  readonly cookieName: string;
  /** Current value (status.sessionAffinityCookie is `<cookieName>=<value>`): requests carrying it go to the canary. */
  readonly canaryValue?: string | undefined;
  /** primaryCookieName and its value: requests carrying it go to the primary. */
  readonly primaryCookieName?: string | undefined;
  readonly primaryValue?: string | undefined;
  /** A cookie of a finished run: answered with `Set-Cookie: …; Max-Age=-1` so clients drop it. */
  readonly previousValue?: string | undefined;
  /** Max-Age of the canary cookie, seconds (default 86400). */
  readonly maxAgeSeconds: number;
  /** Max-Age of the primary cookie, seconds (Flagger: the analysis interval). */
  readonly primaryMaxAgeSeconds: number;
  readonly path?: string | undefined;
  readonly domain?: string | undefined;
  readonly httpOnly?: boolean | undefined;
  readonly secure?: boolean | undefined;
  readonly sameSite?: 'Strict' | 'Lax' | 'None' | undefined;
}

export interface LocalRoute {
  /** Canary namespace and target name: the labels of the router's metrics. */
  readonly namespace: string;
  readonly service: string;
  /** Where clients connect. Port 0 asks for a free port (read it back from the router). */
  readonly listen: { readonly host: string; readonly port: number };
  /** Base URLs of the primary replicas, e.g. http://127.0.0.1:41001. Empty: no primary yet. */
  readonly primary: readonly string[];
  /** Base URLs of the canary replicas. Empty: canary scaled to zero. */
  readonly canary: readonly string[];
  /** 0–100; the primary gets the rest. */
  readonly canaryWeight: number;
  /**
   * Mirroring: a copy of `mirrorWeight`% (default 100) of the requests answered by the primary
   * is sent to the canary and its answer discarded.
   */
  readonly mirror: boolean;
  readonly mirrorWeight?: number | undefined;
  /**
   * A/B: a request matching any entry (all of an entry's conditions) goes to the canary, others
   * to the primary, whatever the weight. Headers match exact/prefix/suffix/regex; the `cookie`
   * header's regex is how cookies are matched (Flagger's convention); queryParams likewise.
   */
  readonly match: readonly AnalysisMatch[];
  readonly sessionAffinity?: SessionAffinityRule | undefined;
}
