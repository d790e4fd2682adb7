import { AsyncLocalStorage } from 'node:async_hooks';
import { createHmac, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { betterAuth, type BetterAuthPlugin } from 'better-auth';
import { drizzleAdapter } from 'better-auth/adapters/drizzle';
import { APIError } from 'better-auth/api';
import { scim, type SCIMScope } from '@better-auth/scim';
import { queryRows, type Db } from '@objectos/db';
import { CLIENT_IP_HEADER, deriveKey } from '@objectos/principal';
import { buildAuthTables } from './auth-tables.ts';
import { plugins } from './auth-plugins.ts';
import { domainsOf, emailWithin } from './sso-guard.ts';
import type { SocialConfig } from './social.ts';

/**
 * SCIM 2.0 provisioning (better-auth's SCIM plugin) at /api/auth/scim/v2/*, one connection per
 * organization, authenticated by the organization's bearer tokens (`auth.scim_token`, issued by its
 * owners and admins through the identity API).
 *
 * The plugin needs an adapter with native transactions; the main better-auth instance cannot have them
 * (its hooks read the database directly, which inside a transaction would wait forever on PGlite's one
 * connection). So SCIM has its own instance over the same tables. What SCIM decides is applied to
 * ObjectOS (membership, groups, account lock, sessions) after the plugin's transaction commits: its
 * callbacks only mark the user dirty (`auth.scim_pending`, in the transaction), and
 * {@link ScimProvisioning.apply} reads the committed state and applies it (scim-apply.ts).
 */

export const SCIM_TOKEN_PREFIX = 'oos_scim_';
export const SCIM_ROUTE = '/api/auth/scim/v2/';
const SCOPES: readonly SCIMScope[] = ['scim.users.read', 'scim.users.write', 'scim.groups.read', 'scim.groups.write'];

/** Provisioning tokens (their HMAC digests), and the existing accounts a directory took over (never locked by it). */
export const SCIM_DDL = [`create table if not exists auth.scim_token (
  id text primary key, organization_id text not null references auth.organization(id) on delete cascade,
  name text not null, token_hash text not null unique, start text not null, created_by text,
  created_at timestamptz not null default now(), expires_at timestamptz, last_used_at timestamptz, revoked_at timestamptz)`,
`create table if not exists auth.scim_linked (user_id text not null references auth."user"(id) on delete cascade,
  organization_id text not null, created_at timestamptz not null default now(), primary key (user_id, organization_id))`];

/** Users the SCIM plugin changed (in its transaction), applied to ObjectOS once it commits. */
const pendingPlugin = {
  id: 'objectos-scim-pending',
  schema: {
    scimPending: {
      fields: {
        provisioningDomainId: { type: 'string', required: true },
        userId: { type: 'string', required: true, index: true },
        createdAt: { type: 'date', required: true },
      },
    },
  },
} satisfies BetterAuthPlugin;

/** What a request's token says, for the plugin's callbacks and hooks (those in its transaction must not query). */
interface ScimRequest { token: string; found: ScimToken; domains: string[] }
const current = new AsyncLocalStorage<ScimRequest>();

export interface ScimToken { id: string; organizationId: string }

export interface ScimOptions {
  db: Db;
  secret: string;
  baseURL: string;
  social?: SocialConfig;
  /** An organization's SCIM users need addresses within its SSO providers' domains, proved by DNS when true. */
  verifyDomains: boolean;
}

export function createScimAuth(o: ScimOptions) {
  const key = deriveKey(o.secret, 'scim-tokens');
  const hashOf = (token: string) => createHmac('sha256', key).update(token).digest('base64url');

  /** The organization of a live token (not revoked, not expired, its organization still there). */
  async function tokenOf(token: string): Promise<ScimToken | null> {
    if (!token.startsWith(SCIM_TOKEN_PREFIX) || token.length > 200) return null;
    const [t] = await queryRows<{ id: string; organization_id: string }>(o.db, sql`select t.id, t.organization_id from auth.scim_token t
      where t.token_hash = ${hashOf(token)} and t.revoked_at is null and (t.expires_at is null or t.expires_at > now())
        and exists (select 1 from auth.organization g where g.id = t.organization_id)`);
    return t ? { id: t.id, organizationId: t.organization_id } : null;
  }

  /** `lastUsedAt` of a token, written at most once a minute (a sync sends hundreds of requests). */
  const touch = (id: string) => o.db.execute(sql`update auth.scim_token set last_used_at = now()
    where id = ${id} and (last_used_at is null or last_used_at < now() - interval '1 minute')`);

  /** The email domains an organization's SCIM users must be within: its SSO providers' (verified ones, unless verification is off). */
  async function domainsOfOrganization(organizationId: string): Promise<string[]> {
    const rows = await queryRows<{ domain: string }>(o.db, sql`select domain from auth.sso_provider
      where organization_id = ${organizationId} ${o.verifyDomains ? sql`and domain_verified is true` : sql``}`);
    return [...new Set(rows.flatMap((r) => domainsOf(r.domain)))];
  }

  const refuseAddress = (email: unknown): void => {
    const req = current.getStore();
    // Only requests with a live token reach the plugin's writes; anything else is refused, not let through.
    if (!req) throw new APIError('UNAUTHORIZED', { code: 'SCIM_UNAUTHENTICATED', message: 'No SCIM token: nothing was changed.' });
    if (typeof email !== 'string') return;
    if (!emailWithin(email, req.domains))
      throw new APIError('BAD_REQUEST', {
        code: 'SCIM_EMAIL_OUTSIDE_DOMAIN',
        message: req.domains.length
          ? `${email} is outside the organization's ${o.verifyDomains ? 'verified ' : ''}SSO domains (${req.domains.join(', ')}): nothing was changed.`
          : `The organization has no ${o.verifyDomains ? 'verified ' : ''}SSO domain: register an SSO provider${o.verifyDomains ? ' and verify its domain' : ''} before provisioning users. Nothing was changed.`,
      });
  };

  const scimPlugin = scim({
    connections: [],
    authentication: {
      // Checked once per request, by handle (a request without a live token has no store).
      verifyBearerToken: ({ token }) => {
        const req = current.getStore();
        const t = req && req.token === token ? req.found : null;
        return t ? { connection: { id: `objectos:${t.organizationId}`, provisioningDomainId: t.organizationId }, credentialId: t.id, scopes: SCOPES } : null;
      },
    },
    identity: {
      // A directory takes over an existing account only if its address is within the organization's proved
      // domains and it is already a verified member there, not an owner (its profile is then left as it is,
      // and it is never locked by the directory). Any other address gets a new account: one already in use
      // is refused by the plugin (409), one outside the domains by the user hooks (400).
      resolveUser: async ({ provisioningDomainId, resource }) => {
        const req = current.getStore();
        if (!req || !emailWithin(resource.primaryEmail, req.domains)) return { action: 'create' };
        const [u] = await queryRows<{ id: string }>(o.db, sql`select u.id from auth."user" u
          where lower(u.email) = lower(${resource.primaryEmail}) and u.email_verified is true
            and exists (select 1 from auth.member m where m.user_id = u.id and m.organization_id = ${provisioningDomainId} and m.role not like '%owner%')`);
        if (!u) return { action: 'create' };
        await o.db.execute(sql`insert into auth.scim_linked (user_id, organization_id) values (${u.id}, ${provisioningDomainId}) on conflict do nothing`);
        return { action: 'link', userId: u.id, profile: 'preserve' };
      },
      reconcileUser: ({ userId }, { database }) => markDirty(database, '', userId),
    },
    projection: {
      // Every SCIM group is a grant; its name decides which ObjectOS group it is (scim-apply.ts).
      roles: { map: () => ['group'], exists: () => true },
      reconcileUser: ({ provisioningDomainId, userId }, { database }) => markDirty(database, provisioningDomainId, userId),
    },
    compatibility: { microsoftEntra: { acceptLegacyGroupSchema: true } },
  });

  // Every column of every model (the main instance's plugins too), so users the SCIM instance creates are whole rows.
  const tables = buildAuthTables({ plugins: [...plugins(0, async () => undefined, o.baseURL, o.social, true), scimPlugin, pendingPlugin] });
  const auth = betterAuth({
    appName: 'ObjectOS SCIM',
    baseURL: o.baseURL,
    basePath: '/api/auth',
    secret: deriveKey(o.secret, 'better-auth'),
    telemetry: { enabled: false },
    database: drizzleAdapter(o.db, { provider: 'pg', schema: tables.schema, transaction: true }),
    emailAndPassword: { enabled: false },
    rateLimit: { enabled: false },
    advanced: { ipAddress: { ipAddressHeaders: [CLIENT_IP_HEADER] }, database: { generateId: () => randomUUID() } },
    plugins: [scimPlugin, pendingPlugin],
    databaseHooks: {
      user: {
        // Provisioned addresses stay within the organization's proved domains; the directory vouches for them.
        create: { before: async (user) => (refuseAddress(user.email), { data: { ...user, emailVerified: true } }) },
        update: { before: async (user) => (refuseAddress(user.email), user.email === undefined ? undefined : { data: { ...user, emailVerified: true } }) },
      },
    },
  });

  return {
    tables,
    hashOf,
    /** Serves one SCIM request; `after` runs once the plugin's transaction has committed (the changes are applied). */
    async handle(request: Request, after: () => Promise<void>): Promise<Response> {
      const token = /^Bearer\s+(.+)$/i.exec(request.headers.get('authorization') ?? '')?.[1]?.trim();
      const t = token ? await tokenOf(token) : null;
      // An unknown token is the plugin's to refuse (401, its SCIM error).
      const store: ScimRequest | null = t && token ? { token, found: t, domains: await domainsOfOrganization(t.organizationId) } : null;
      if (t) await touch(t.id);
      try {
        return store ? await current.run(store, () => auth.handler(request)) : await auth.handler(request);
      } finally {
        if (store) await after();
      }
    },
  };
}

async function markDirty(database: { create: (x: { model: string; data: Record<string, unknown> }) => Promise<unknown> }, provisioningDomainId: string, userId: string): Promise<void> {
  await database.create({ model: 'scimPending', data: { provisioningDomainId, userId, createdAt: new Date() } });
}
