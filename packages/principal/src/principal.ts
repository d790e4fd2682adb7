/**
 * Who is asking. Built once, by the gateway, from a session cookie, a bearer token or an API key;
 * subgraphs only ever see it signed (see sign.ts) and never read credentials themselves.
 */
export interface Principal {
  /** `user`: a signed-in person; `api_key`: a key acting for its user in its organization;
   * `anonymous`: no credentials; `system`: the gateway itself (composition, health). */
  kind: 'user' | 'api_key' | 'anonymous' | 'system';
  userId: string | null;
  /** The tenant every record read or written belongs to; null when the user has no organization. */
  organizationId: string | null;
  /** Organization roles of the member (better-auth `member.role`, split on commas). */
  roles: string[];
  /** Permission sets assigned to the member (a profile among them, if one is assigned); none → the default profile of its organization role. */
  permissionSets: string[];
  /** The member's place in the role hierarchy (spec Role), if assigned. */
  role: string | null;
  /** Public groups the member belongs to (record shares can target them). */
  groups: string[];
  /** Platform administrator (better-auth admin plugin role `admin`). */
  isAdmin: boolean;
  sessionId: string | null;
  apiKeyId: string | null;
  /** The platform operator acting as this user (an impersonation session), null otherwise. */
  impersonatedBy: string | null;
}

/**
 * Freezes a principal and its lists, and returns it. A frozen principal can be shared by every request
 * that acts as it, and its encoding and key are computed once (see `encodePrincipal`, `principalJson`).
 */
export function freezePrincipal<P extends Principal>(p: P): Readonly<P> {
  Object.freeze(p.roles);
  Object.freeze(p.permissionSets);
  Object.freeze(p.groups);
  return Object.freeze(p);
}

/** True when neither the principal nor its lists can change any more. */
export const isFrozenPrincipal = (p: Principal): boolean =>
  Object.isFrozen(p) && Object.isFrozen(p.roles) && Object.isFrozen(p.permissionSets) && Object.isFrozen(p.groups);

export const ANONYMOUS: Principal = freezePrincipal({
  kind: 'anonymous',
  userId: null,
  organizationId: null,
  roles: [],
  permissionSets: ['guest'],
  role: null,
  groups: [],
  isAdmin: false,
  sessionId: null,
  apiKeyId: null,
  impersonatedBy: null,
});

/** An anonymous request served in an organization (its guest profile applies; see OBJECTOS_GUEST_ORGANIZATION). */
export const guestPrincipal = (organizationId: string): Principal => freezePrincipal({ ...ANONYMOUS, organizationId, permissionSets: [] });

export const SYSTEM: Principal = freezePrincipal({
  kind: 'system',
  userId: null,
  organizationId: null,
  roles: [],
  permissionSets: [],
  role: null,
  groups: [],
  isAdmin: false,
  sessionId: null,
  apiKeyId: null,
  impersonatedBy: null,
});

const KINDS = new Set(['user', 'api_key', 'anonymous', 'system']);
const strOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';
const strList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Narrows decoded JSON to a Principal; anything else is refused. */
export function isPrincipal(v: unknown): v is Principal {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return (
    KINDS.has(p.kind as string) &&
    strOrNull(p.userId) &&
    strOrNull(p.organizationId) &&
    strList(p.roles) &&
    strList(p.permissionSets) &&
    strOrNull(p.role) &&
    strList(p.groups) &&
    typeof p.isAdmin === 'boolean' &&
    strOrNull(p.sessionId) &&
    strOrNull(p.apiKeyId) &&
    strOrNull(p.impersonatedBy)
  );
}

/**
 * The same person in the same organization, through the same session or key (and impersonator): what
 * may differ is only what they may see (roles, permission sets, groups). A change of that is a change of
 * access, not of who is asking.
 */
export const sameIdentity = (a: Principal, b: Principal): boolean =>
  a.kind === b.kind && a.userId === b.userId && a.organizationId === b.organizationId && a.sessionId === b.sessionId && a.apiKeyId === b.apiKeyId && a.impersonatedBy === b.impersonatedBy;
