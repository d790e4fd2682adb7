import { guardEntityTypes, prefixedInflection, renameResolvers, renameSdl } from '@objectos/schema';
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse, type GraphQLSchema } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { connectDatabase, ensureSecurityTables, queryRows, saveMemberAccess, type Database, type DatabaseOptions } from '@objectos/db';
import { createMemoryEventBus, ensureEventTables, type EventBus } from '@objectos/events';
import type { SocialConfig } from './social.ts';
import { DEFAULT_POLICY, type PolicyDefinition, type ScimMappingDefinition, type SsoMappingDefinition } from '@objectos/metadata';
import { createLogger, REQUEST_ID_HEADER, useCorrelatedErrors, type Logger } from '@objectos/observability';
import { audienceKey, CLIENT_AGENT_HEADER, CLIENT_IP_HEADER, createMemoryReplayStore, PRINCIPAL_ENDPOINT, principalOf, usePrincipalGuard, verifyRequest, type Credentials, type Resolution, type ReplayStore } from '@objectos/principal';
import { createAuth, PASSWORD_HISTORY_DDL, type Auth } from './create-auth.ts';
import { identityResolvers, IDENTITY_SDL, type IdentityContext, type SecurityNames } from './identity-schema.ts';
import { createPrincipalResolver } from './resolve-principal.ts';
import { applyOperators } from './operators.ts';
import { withOriginRule } from './origin-rule.ts';
import { impersonationGate } from './impersonation-gate.ts';
import { DEFAULT_IMPERSONATION_MINUTES } from './operators.ts';
import { ensureSsoClaims } from './sso-guard.ts';
import { createScimAuth, SCIM_DDL, SCIM_ROUTE } from './scim.ts';
import { scimApplier, type ObjectosGroup } from './scim-apply.ts';
import type { Notifier } from '@objectos/notifications';

/** The only headers read from a {@link PRINCIPAL_ENDPOINT} body. */
const CREDENTIAL_HEADERS: readonly (keyof Credentials)[] = ['authorization', 'cookie', 'x-api-key'];

export interface IdentitySubgraphOptions extends DatabaseOptions {
  /** A connection shared with the other in-process subgraphs (embedded mode: one PGlite). */
  database?: Database;
  /** Prefix of its GraphQL names (OBJECTOS_NAME_PREFIX, as the data subgraph's): `User` → `CrmUser`, `me` → `crmMe`. */
  namePrefix?: string;
  /** OBJECTOS_SECRET (≥ 32 characters): signs principals and keys better-auth. */
  secret: string;
  /** Public URL of the gateway, e.g. http://localhost:4000 */
  baseURL: string;
  trustedOrigins?: string[];
  policy?: PolicyDefinition;
  bus?: EventBus;
  /**
   * Names declared by the security metadata (`model.security`): role, permission set and group
   * assignments are checked against them. Absent → any well-formed name is accepted.
   */
  security?: SecurityNames;
  /**
   * Create a demo admin and organization when no user exists yet, and one demo member per role of the
   * security metadata (so role hierarchy and sharing rules have someone to show records to). @default false
   */
  seedDemo?: boolean;
  /** Emails of the platform operators (OBJECTOS_OPERATORS); applied at start, everyone else loses the role. @default [] */
  operators?: string[];
  /** Length of an operator's impersonation session; 0 turns impersonation off. @default 15 */
  impersonationMinutes?: number;
  /**
   * Where accepted gateway signatures are remembered (each is accepted once): Redis between replicas
   * (services mode). Not closed by dispose. @default in process
   */
  replay?: ReplayStore;
  logger?: Logger;
  /** Sends identity's mail (verification, reset, invitations) through the job queue. */
  notifier?: Notifier;
  /** Email one-time codes for verification and sign-in (OBJECTOS_EMAIL_OTP). @default false */
  emailOtp?: boolean;
  /** Origins of the identity providers organizations may register for SSO (OBJECTOS_SSO_ISSUERS). @default none */
  ssoIssuers?: string[];
  /** An SSO provider signs in only once its domains are proved with DNS TXT records. @default true */
  ssoDomainVerification?: boolean;
  /** Just-in-time access per SSO provider, from the metadata (`*.sso.yaml`). @default none */
  ssoMappings?: SsoMappingDefinition[];
  /** Social sign-in (OBJECTOS_GOOGLE_*, _GITHUB_*, _MICROSOFT_*, OBJECTOS_OAUTH_*). @default none */
  social?: SocialConfig;
  /** The metadata's public groups (names and labels): SCIM groups map to them by name. @default none */
  groups?: readonly ObjectosGroup[];
  /** Access from each organization's directory, from the metadata (`*.scim.yaml`). @default none */
  scimMappings?: readonly ScimMappingDefinition[];
}

export interface DemoAccount {
  email: string;
  /** Only set when the account was created by this start: shown once, stored nowhere else. */
  password: string | null;
  organizationId: string;
  organizationSlug: string;
  /** The demo admin's user id (it owns a share of the demo records). */
  userId: string | null;
  /** Demo members created by this start, one per role, with the admin's password. */
  members: { email: string; role: string; userId: string }[];
}

export interface IdentitySubgraph {
  name: 'identity';
  sdl: string;
  schema: GraphQLSchema;
  /** One handler for `/api/auth/*`, `/internal/principal` and `/graphql`; all need a gateway signature. */
  fetch: (request: Request) => Promise<Response>;
  auth: Auth;
  /** Credentials → Principal (what {@link PRINCIPAL_ENDPOINT} answers). */
  resolve: (headers: Headers) => Promise<Resolution>;
  database: Database;
  demo: DemoAccount | null;
  dispose(): Promise<void>;
}

const DEMO_EMAIL = 'admin@objectos.local';
const DEMO_ORG = { name: 'Acme Corporation', slug: 'acme' };

export async function createIdentitySubgraph(options: IdentitySubgraphOptions): Promise<IdentitySubgraph> {
  const owned = !options.database;
  const database = options.database ?? (await connectDatabase(options));
  const bus = options.bus ?? createMemoryEventBus();
  const policy = options.policy ?? DEFAULT_POLICY;
  const logger = options.logger ?? createLogger('identity');
  const key = audienceKey(options.secret, 'identity');
  // One store for /graphql and the HTTP routes: a signature is used once, whichever route it reaches.
  const replay = options.replay ?? createMemoryReplayStore();
  try {
    const { auth, tables } = createAuth({
      db: database.db,
      secret: options.secret,
      baseURL: options.baseURL,
      trustedOrigins: options.trustedOrigins ?? [new URL(options.baseURL).origin],
      policy,
      bus,
      ...(options.impersonationMinutes !== undefined ? { impersonationMinutes: options.impersonationMinutes } : {}),
      ...(options.notifier ? { notifier: options.notifier } : {}),
      emailOtp: options.emailOtp ?? false,
      ssoIssuers: options.ssoIssuers ?? [],
      ssoDomainVerification: options.ssoDomainVerification ?? true,
      ssoMappings: options.ssoMappings ?? [],
      ...(options.social ? { social: options.social } : {}),
    });
    const impersonationMs = (options.impersonationMinutes ?? DEFAULT_IMPERSONATION_MINUTES) * 60_000;
    await tables.migrate(database.db);
    await ensureSsoClaims(database.db);
    await database.db.execute(sql.raw(PASSWORD_HISTORY_DDL));
    await ensureSecurityTables(database.db);
    await ensureEventTables(database.db);
    const scim = createScimAuth({ db: database.db, secret: options.secret, baseURL: options.baseURL, verifyDomains: options.ssoDomainVerification ?? true, ...(options.social ? { social: options.social } : {}) });
    await scim.tables.migrate(database.db);
    for (const ddl of SCIM_DDL) await database.db.execute(sql.raw(ddl));
    const scimChanges = scimApplier({ db: database.db, groups: options.groups ?? [], mappings: options.scimMappings ?? [], bus, logger });
    // What an earlier process committed but did not apply (it stopped in between).
    await scimChanges.apply();
    const resolve = createPrincipalResolver(auth, database.db, policy, { ...(options.impersonationMinutes !== undefined ? { impersonationMinutes: options.impersonationMinutes } : {}) });
    const names = options.namePrefix ? prefixedInflection(options.namePrefix) : null;
    const sdl = names ? renameSdl(IDENTITY_SDL, names) : IDENTITY_SDL;
    const resolvers = identityResolvers(auth, database.db, bus, options.security, { hashOf: scim.hashOf, endpoint: new URL(SCIM_ROUTE.slice(0, -1), options.baseURL).toString() });
    const schema = guardEntityTypes(buildSubgraphSchema([{ typeDefs: parse(sdl), resolvers: names ? renameResolvers(IDENTITY_SDL, resolvers, names) : resolvers }]));
    const yoga = createYoga<Record<string, unknown>, IdentityContext>({
      schema,
      graphqlEndpoint: '/graphql',
      graphiql: false,
      landingPage: false,
      maskedErrors: false,
      plugins: [usePrincipalGuard({ key, audience: 'identity', replay }), useCorrelatedErrors({ logger })],
      context: ({ request }) => ({
        principal: principalOf(request),
        requestId: request.headers.get(REQUEST_ID_HEADER),
        client: { ip: request.headers.get(CLIENT_IP_HEADER), userAgent: request.headers.get(CLIENT_AGENT_HEADER) },
      }),
    });
    const demo = options.seedDemo ? await seedDemoAccount(auth, database, options.security?.roles ?? []) : null;
    for (const c of await applyOperators(database.db, options.operators ?? [])) logger.info(`platform role of ${c.email}: ${c.role}`);

    async function handle(request: Request): Promise<Response> {
      const path = new URL(request.url).pathname;
      if (path === '/graphql') return yoga.fetch(request);
      // Liveness for orchestrators: says nothing but "up".
      if (path === '/health' && request.method === 'GET') return new Response(null, { status: 200 });
      const verdict = await verifyRequest(request, key, 'identity', { replay });
      if (!verdict.ok)
        return Response.json({ error: { code: 'UNAUTHENTICATED', message: `Unauthorized: ${verdict.reason}` } }, { status: 401, headers: { 'www-authenticate': 'ObjectOS-HMAC' } });
      if (path.startsWith(SCIM_ROUTE)) return scim.handle(request, () => scimChanges.apply());
      if (path.startsWith('/api/auth/')) return (await impersonationGate(auth, request, path, impersonationMs)) ?? auth.handler(await withOriginRule(request));
      if (path === PRINCIPAL_ENDPOINT && request.method === 'POST') {
        const body = (await request.json().catch(() => null)) as Record<string, unknown> | null;
        const headers = new Headers();
        for (const h of CREDENTIAL_HEADERS) if (typeof body?.[h] === 'string') headers.set(h, body[h] as string);
        return Response.json(await resolve(headers));
      }
      return Response.json({ error: { code: 'NOT_FOUND', message: `no route ${path}` } }, { status: 404 });
    }

    return {
      name: 'identity',
      sdl,
      schema,
      fetch: handle,
      auth,
      resolve,
      database,
      demo,
      dispose: async () => {
        await scimChanges.close();
        if (owned) await database.close();
      },
    };
  } catch (e) {
    if (owned) await database.close();
    throw e;
  }
}

/**
 * The first start creates the Acme organization and its owner, so a newcomer can sign in at once. The
 * owner administers Acme only: no platform role (operators are configured, see applyOperators).
 */
async function seedDemoAccount(auth: Auth, database: Database, roles: readonly string[]): Promise<DemoAccount> {
  const org = async () => (await queryRows<{ id: string }>(database.db, sql`select id from auth.organization where slug = ${DEMO_ORG.slug}`))[0]?.id;
  const users = await queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from auth."user"`);
  if ((users[0]?.n ?? 0) > 0) {
    const id = await org();
    const admin = await queryRows<{ id: string }>(database.db, sql`select id from auth."user" where email = ${DEMO_EMAIL}`);
    return { email: DEMO_EMAIL, password: null, organizationId: id ?? '', organizationSlug: DEMO_ORG.slug, userId: admin[0]?.id ?? null, members: [] };
  }
  // Meets any policy this runtime accepts: letters of both cases, digits and a symbol, 24 characters.
  const password = `Oos-${randomBytes(12).toString('base64url')}-7a`;
  const signUp = async (email: string, name: string) => {
    const { user } = await auth.api.signUpEmail({ body: { email, password, name } });
    await database.db.execute(sql`update auth."user" set email_verified = true where id = ${user.id}`);
    return user.id;
  };
  const userId = await signUp(DEMO_EMAIL, 'Demo Admin');
  const created = await auth.api.createOrganization({ body: { ...DEMO_ORG, userId } });
  // One member per role, in name order: the demo records are shared out among them (see the data seed).
  const members: DemoAccount['members'] = [];
  for (const role of [...roles].sort()) {
    const email = `${role.replace(/_/g, '.')}@objectos.local`;
    const id = await signUp(email, `Demo ${role.split('_').map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' ')}`);
    await auth.api.addMember({ body: { userId: id, organizationId: created!.id, role: 'member' } });
    await saveMemberAccess(database.db, created!.id, id, { role, permissionSets: [], groups: [] });
    members.push({ email, role, userId: id });
  }
  return { email: DEMO_EMAIL, password, organizationId: created!.id, organizationSlug: DEMO_ORG.slug, userId, members };
}
