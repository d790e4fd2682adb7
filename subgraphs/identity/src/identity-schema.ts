import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { GraphQLError } from 'graphql';
import type { GraphQLResolverMap } from '@apollo/subgraph';
import { loadMemberAccess, loadOrganizationRoles, queryRows, saveMemberAccess, splitRoles, type Db, type MemberAccess } from '@objectos/db';
import { auditEvent, createAuditEmitter, type AuditEventType, type EventBus } from '@objectos/events';
import type { Principal } from '@objectos/principal';
import type { SecurityModel } from '@objectos/metadata';
import { IDENTITY_SDL, scalarResolvers } from '@objectos/schema';
import type { Auth } from './create-auth.ts';
import { SCIM_TOKEN_PREFIX } from './scim.ts';

// The SDL is the schema package's (schema/src/identity-sdl.ts): composed into public.graphql with the
// compiled subgraphs, so the typed SDK covers identity too.
export { IDENTITY_SDL };

/** Names the security metadata declares: assignments must use them. */
export interface SecurityNames {
  roles: readonly string[];
  permissionSets: readonly string[];
  groups: readonly string[];
}

/** The names declared by loaded security metadata (`model.security`). */
export const securityNamesOf = (security: SecurityModel): SecurityNames => ({
  roles: security.roles.map((r) => r.name),
  permissionSets: security.permissionSets.map((p) => p.name),
  groups: security.groups.map((g) => g.name),
});

const ORG_ADMIN_ROLES = ['owner', 'admin'];
const MAX_NAME = 200;
const MAX_ASSIGNED = 100;

export interface IdentityContext {
  principal: Principal;
  requestId: string | null;
  /** The client's address and agent as the gateway saw them (audit trail). */
  client?: { ip: string | null; userAgent: string | null };
}

const err = (code: string, message: string) => new GraphQLError(message, { extensions: { code } });

function signedIn(p: Principal): string {
  if (!p.userId) throw err('UNAUTHENTICATED', 'Sign in first.');
  return p.userId;
}

interface KeyRow { id: string; name: string | null; start: string | null; enabled: boolean | null; metadata: string | null; created_at: Date; expires_at: Date | null; last_request: Date | null }
const keyOut = (k: KeyRow) => {
  let organizationId: string | null = null;
  try {
    organizationId = (JSON.parse(k.metadata ?? 'null') as { organizationId?: string } | null)?.organizationId ?? null;
  } catch {
    organizationId = null;
  }
  return { id: k.id, name: k.name, start: k.start, enabled: k.enabled !== false, organizationId, createdAt: k.created_at, expiresAt: k.expires_at, lastRequest: k.last_request };
};

const userOut = (u: Record<string, unknown>) => ({
  id: u.id,
  name: u.name,
  email: u.email,
  emailVerified: Boolean(u.email_verified),
  image: u.image ?? null,
  twoFactorEnabled: Boolean(u.two_factor_enabled),
  createdAt: u.created_at,
});

const accessOut = (userId: string, a: MemberAccess) => ({ userId, role: a.role, permissionSets: a.permissionSets, groups: a.groups });
const quoted = (names: string[]) => names.map((n) => JSON.stringify(n)).join(', ');

interface SetMemberAccessInput { userId: string; role?: string | null; permissionSets: string[]; groups: string[] }

/** Trims and de-duplicates the names, refusing blank, overlong and (when the metadata is known) undeclared ones. */
function checkAccessInput(input: SetMemberAccessInput, names: SecurityNames | undefined): MemberAccess {
  const problems: string[] = [];
  const unknown: Record<string, string[]> = {};
  const list = (label: string, key: keyof SecurityNames, values: readonly string[], allowed: readonly string[] | undefined): string[] => {
    const out = [...new Set(values.map((v) => v.trim()))];
    if (out.some((v) => v === '' || v.length > MAX_NAME)) problems.push(`${label} names must be 1 to ${MAX_NAME} characters`);
    if (out.length > MAX_ASSIGNED) problems.push(`at most ${MAX_ASSIGNED} ${label}s can be assigned`);
    const bad = allowed ? out.filter((v) => v !== '' && !allowed.includes(v)) : [];
    if (bad.length) {
      unknown[key] = bad;
      problems.push(`unknown ${label}${bad.length > 1 ? 's' : ''} ${quoted(bad)}`);
    }
    return out;
  };
  const role = input.role === null || input.role === undefined ? null : (list('role', 'roles', [input.role], names?.roles)[0] ?? null);
  const permissionSets = list('permission set', 'permissionSets', input.permissionSets, names?.permissionSets);
  const groups = list('group', 'groups', input.groups, names?.groups);
  if (problems.length)
    throw new GraphQLError(`Nothing was changed: ${problems.join('; ')}.`, { extensions: { code: 'BAD_USER_INPUT', ...(Object.keys(unknown).length ? { unknown } : {}) } });
  return { role, permissionSets, groups };
}

interface ScimTokenRow { id: string; name: string; start: string; created_at: Date; expires_at: Date | null; last_used_at: Date | null; revoked_at: Date | null }
const scimTokenOut = (t: ScimTokenRow) => ({ id: t.id, name: t.name, start: t.start, createdAt: t.created_at, expiresAt: t.expires_at, lastUsedAt: t.last_used_at, revokedAt: t.revoked_at });

/** SCIM tokens: how a token is stored (its digest) and where providers send their requests. */
export interface ScimTokenOptions { hashOf: (token: string) => string; endpoint: string }

/** Resolvers read with the verified principal only; credentials never reach this subgraph. */
export function identityResolvers(auth: Auth, db: Db, bus: EventBus, security?: SecurityNames, scim?: ScimTokenOptions): GraphQLResolverMap<IdentityContext> {
  // Durable before the mutation answers (events.audit_outbox), then on the bus for caches and sockets.
  const record = createAuditEmitter(db, bus);
  const emit = (type: AuditEventType, { principal: p, requestId, client }: IdentityContext, details: Record<string, unknown>, target?: { type: string; id: string }) =>
    record(auditEvent({
      eventType: type, actor: { type: p.kind === 'api_key' ? 'api_client' : 'user', id: p.userId, ipAddress: client?.ip ?? null, userAgent: client?.userAgent ?? null },
      description: type, tenantId: p.organizationId, requestId, details, target,
    }));
  const userById = async (id: string) => {
    const rows = await queryRows<Record<string, unknown>>(db, sql`select id, name, email, email_verified, image, two_factor_enabled, created_at from auth."user" where id = ${id}`);
    return rows[0] ? userOut(rows[0]) : null;
  };
  const orgOut = (o: Record<string, unknown>) => ({ id: o.id, name: o.name, slug: o.slug, createdAt: o.created_at });
  const isOrgAdmin = (p: Principal) => p.roles.some((r) => ORG_ADMIN_ROLES.includes(r));
  /** The organization whose SCIM tokens a request may see and change: its active one, as its owner or admin, from a session. */
  const scimAdmin = (p: Principal): string => {
    signedIn(p);
    if (p.kind !== 'user') throw err('FORBIDDEN', 'SCIM tokens are managed from a signed-in session, not with an API key.');
    if (p.impersonatedBy) throw err('FORBIDDEN', 'An impersonation session cannot manage SCIM tokens: it could hand out access that outlives it.');
    if (!p.organizationId) throw err('FORBIDDEN', 'Join or choose an organization first: a SCIM token provisions one organization.');
    if (!isOrgAdmin(p)) throw err('FORBIDDEN', "Only an organization owner or admin can manage the organization's SCIM tokens.");
    if (!scim) throw err('FORBIDDEN', 'SCIM is not available on this identity service.');
    return p.organizationId;
  };
  const SCIM_COLUMNS = sql`id, name, start, created_at, expires_at, last_used_at, revoked_at`;

  return {
    ...(scalarResolvers as unknown as GraphQLResolverMap<IdentityContext>),
    Query: {
      me: (_: unknown, __: unknown, { principal }: IdentityContext) => (principal.userId ? userById(principal.userId) : null),
      myOrganizations: async (_: unknown, __: unknown, { principal }: IdentityContext) => {
        const userId = signedIn(principal);
        const rows = await queryRows<Record<string, unknown>>(
          db,
          sql`select o.id, o.name, o.slug, o.created_at from auth.organization o join auth.member m on m.organization_id = o.id where m.user_id = ${userId} order by o.name`,
        );
        return rows.map(orgOut);
      },
      activeOrganization: async (_: unknown, __: unknown, { principal }: IdentityContext) => {
        if (!principal.organizationId) return null;
        const rows = await queryRows<Record<string, unknown>>(db, sql`select id, name, slug, created_at from auth.organization where id = ${principal.organizationId}`);
        return rows[0] ? orgOut(rows[0]) : null;
      },
      members: async (_: unknown, __: unknown, { principal }: IdentityContext) => {
        signedIn(principal);
        if (!principal.organizationId) return [];
        const rows = await queryRows<Record<string, unknown>>(
          db,
          sql`select m.id, m.role, m.created_at, u.id as user_id, u.name, u.email, u.email_verified, u.image, u.two_factor_enabled, u.created_at as user_created_at
              from auth.member m join auth."user" u on u.id = m.user_id where m.organization_id = ${principal.organizationId} order by u.email`,
        );
        return rows.map((r) => ({
          id: r.id,
          roles: splitRoles(String(r.role)),
          createdAt: r.created_at,
          user: userOut({ ...r, id: r.user_id, created_at: r.user_created_at }),
        }));
      },
      mySessions: async (_: unknown, __: unknown, { principal }: IdentityContext) => {
        const userId = signedIn(principal);
        const rows = await queryRows<Record<string, unknown>>(
          db,
          sql`select id, created_at, expires_at, ip_address, user_agent from auth.session where user_id = ${userId} and expires_at > now() order by created_at desc`,
        );
        return rows.map((r) => ({ id: r.id, current: r.id === principal.sessionId, createdAt: r.created_at, expiresAt: r.expires_at, ipAddress: r.ip_address, userAgent: r.user_agent }));
      },
      apiKeys: async (_: unknown, __: unknown, { principal }: IdentityContext) => {
        const userId = signedIn(principal);
        const rows = await queryRows<KeyRow>(
          db,
          sql`select id, name, start, enabled, metadata, created_at, expires_at, last_request from auth.apikey where reference_id = ${userId} order by created_at`,
        );
        return rows.map(keyOut);
      },
      myAccess: (_: unknown, __: unknown, { principal }: IdentityContext) =>
        principal.userId && principal.organizationId ? accessOut(principal.userId, { role: principal.role, permissionSets: principal.permissionSets, groups: principal.groups }) : null,
      memberAccess: async (_: unknown, { userId }: { userId: string }, { principal }: IdentityContext) => {
        const self = signedIn(principal);
        const org = principal.organizationId;
        if (!org) return null;
        if (userId !== self && !isOrgAdmin(principal)) throw err('FORBIDDEN', "Only an organization owner or admin can read another member's access.");
        if (userId !== self && !(await loadOrganizationRoles(db, org, userId))) return null;
        return accessOut(userId, await loadMemberAccess(db, org, userId));
      },
      scimTokens: async (_: unknown, __: unknown, { principal }: IdentityContext) => {
        const org = scimAdmin(principal);
        return (await queryRows<ScimTokenRow>(db, sql`select ${SCIM_COLUMNS} from auth.scim_token where organization_id = ${org} order by created_at`)).map(scimTokenOut);
      },
    },
    Mutation: {
      revokeSession: async (_: unknown, { id }: { id: string }, ctx: IdentityContext) => {
        const { principal } = ctx;
        const userId = signedIn(principal);
        const rows = await queryRows<{ id: string }>(db, sql`delete from auth.session where id = ${id} and user_id = ${userId} returning id`);
        if (rows.length === 0) throw err('NOT_FOUND', `No session ${id} of yours exists.`);
        await emit('auth.session_revoked', ctx, { userId, sessionIds: [id] }, { type: 'session', id });
        return true;
      },
      createApiKey: async (_: unknown, { input }: { input: { name: string; expiresInDays?: number | null } }, ctx: IdentityContext) => {
        const { principal } = ctx;
        const userId = signedIn(principal);
        // A key cannot mint keys: a leaked key must not be able to make itself permanent.
        if (principal.kind !== 'user') throw err('FORBIDDEN', 'API keys can only be created from a signed-in session.');
        // A key would outlive the impersonation (15 minutes) it was made in.
        if (principal.impersonatedBy) throw err('FORBIDDEN', 'An impersonation session cannot create API keys: a key would outlive it.');
        if (!principal.organizationId) throw err('FORBIDDEN', 'Join or choose an organization first: an API key acts in one organization.');
        const name = input.name.trim();
        if (name.length === 0 || name.length > 100) throw err('BAD_USER_INPUT', 'name must be 1 to 100 characters.');
        const days = input.expiresInDays;
        if (days !== undefined && days !== null && (days < 1 || days > 3650)) throw err('BAD_USER_INPUT', 'expiresInDays must be between 1 and 3650.');
        const created = await auth.api.createApiKey({
          body: { userId, name, metadata: { organizationId: principal.organizationId }, ...(days ? { expiresIn: days * 86_400 } : {}) },
        });
        await emit('security.api_key_created', ctx, { userId, apiKeyId: created.id }, { type: 'api_key', id: created.id });
        const rows = await queryRows<KeyRow>(db, sql`select id, name, start, enabled, metadata, created_at, expires_at, last_request from auth.apikey where id = ${created.id}`);
        return { key: created.key, apiKey: keyOut(rows[0]!) };
      },
      revokeApiKey: async (_: unknown, { id }: { id: string }, ctx: IdentityContext) => {
        const { principal } = ctx;
        const userId = signedIn(principal);
        const rows = await queryRows<{ id: string }>(db, sql`delete from auth.apikey where id = ${id} and reference_id = ${userId} returning id`);
        if (rows.length === 0) throw err('NOT_FOUND', `No API key ${id} of yours exists.`);
        await emit('security.api_key_revoked', ctx, { userId, apiKeyId: id }, { type: 'api_key', id });
        return true;
      },
      setMemberAccess: async (_: unknown, { input }: { input: SetMemberAccessInput }, ctx: IdentityContext) => {
        const { principal } = ctx;
        signedIn(principal);
        const org = principal.organizationId;
        if (!org) throw err('FORBIDDEN', 'Join or choose an organization first: access is assigned within one organization.');
        if (!isOrgAdmin(principal)) throw err('FORBIDDEN', "Only an organization owner or admin can change a member's access.");
        const next = checkAccessInput(input, security);
        const target = input.userId;
        const previous = await db.transaction(async (tx) => {
          // The membership row is locked so concurrent changes to one member apply one after the other.
          const roles = await loadOrganizationRoles(tx, org, target, true);
          if (!roles) throw err('NOT_FOUND', `User ${target} is not a member of this organization: nothing was changed.`);
          if (roles.includes('owner') && !principal.roles.includes('owner')) throw err('FORBIDDEN', "Only an organization owner can change an owner's access.");
          const before = await loadMemberAccess(tx, org, target);
          await saveMemberAccess(tx, org, target, next);
          return before;
        });
        // Published (and awaited) after the write: every gateway evicts the member's cached principals
        // (details.userId) before this response leaves, so their next request acts with the new access.
        const on = { type: 'user', id: target };
        if (previous.role !== next.role)
          await emit(next.role ? 'authz.role_assigned' : 'authz.role_removed', ctx, { userId: target, role: next.role, previousRole: previous.role }, on);
        const added = (a: string[], b: string[]) => b.filter((x) => !a.includes(x));
        const granted = { permissionSets: added(previous.permissionSets, next.permissionSets), groups: added(previous.groups, next.groups) };
        const revoked = { permissionSets: added(next.permissionSets, previous.permissionSets), groups: added(next.groups, previous.groups) };
        if (granted.permissionSets.length || granted.groups.length) await emit('authz.permission_granted', ctx, { userId: target, ...granted }, on);
        if (revoked.permissionSets.length || revoked.groups.length) await emit('authz.permission_revoked', ctx, { userId: target, ...revoked }, on);
        return accessOut(target, next);
      },
      createScimToken: async (_: unknown, { input }: { input: { name: string; expiresInDays?: number | null } }, ctx: IdentityContext) => {
        const org = scimAdmin(ctx.principal);
        const name = input.name.trim();
        if (name.length === 0 || name.length > 100) throw err('BAD_USER_INPUT', 'name must be 1 to 100 characters: nothing was created.');
        const days = input.expiresInDays;
        if (days !== undefined && days !== null && (days < 1 || days > 3650)) throw err('BAD_USER_INPUT', 'expiresInDays must be between 1 and 3650: nothing was created.');
        const token = `${SCIM_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
        const [row] = await queryRows<ScimTokenRow>(db, sql`insert into auth.scim_token (id, organization_id, name, token_hash, start, created_by, expires_at)
          values (${randomUUID()}, ${org}, ${name}, ${scim!.hashOf(token)}, ${token.slice(0, SCIM_TOKEN_PREFIX.length + 4)}, ${ctx.principal.userId},
            ${days ? sql`now() + make_interval(days => ${days})` : sql`null`}) returning ${SCIM_COLUMNS}`);
        await emit('system.integration_added', ctx, { kind: 'scim', credentialId: row!.id, name }, { type: 'scim_credential', id: row!.id });
        return { token, endpoint: scim!.endpoint, scimToken: scimTokenOut(row!) };
      },
      revokeScimToken: async (_: unknown, { id }: { id: string }, ctx: IdentityContext) => {
        const org = scimAdmin(ctx.principal);
        const rows = await queryRows<{ id: string }>(db, sql`update auth.scim_token set revoked_at = now() where id = ${id} and organization_id = ${org} and revoked_at is null returning id`);
        if (rows.length === 0) throw err('NOT_FOUND', `No live SCIM token ${id} of this organization exists: nothing was changed.`);
        await emit('system.integration_removed', ctx, { kind: 'scim', credentialId: id }, { type: 'scim_credential', id });
        return true;
      },
    },
    User: {
      // Only the user themself and people sharing one of their organizations are visible.
      __resolveReference: async (ref: { id: string }, { principal }: IdentityContext) => {
        if (!principal.userId) return null;
        if (ref.id === principal.userId) return userById(ref.id);
        const shared = await queryRows<{ n: number }>(
          db,
          sql`select 1 as n from auth.member a join auth.member b on a.organization_id = b.organization_id where a.user_id = ${principal.userId} and b.user_id = ${ref.id} limit 1`,
        );
        return shared.length ? userById(ref.id) : null;
      },
    },
    Organization: {
      __resolveReference: async (ref: { id: string }, { principal }: IdentityContext) => {
        // Only organizations the user belongs to are visible.
        if (!principal.userId) return null;
        const rows = await queryRows<Record<string, unknown>>(
          db,
          sql`select o.id, o.name, o.slug, o.created_at from auth.organization o join auth.member m on m.organization_id = o.id where o.id = ${ref.id} and m.user_id = ${principal.userId}`,
        );
        return rows[0] ? orgOut(rows[0]) : null;
      },
    },
  } as unknown as GraphQLResolverMap<IdentityContext>;
}
