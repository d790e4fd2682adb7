import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { betterAuth } from 'better-auth';
import { drizzleAdapter } from 'better-auth/adapters/drizzle';
import { APIError, createAuthMiddleware, getSessionFromCtx, isAPIError } from 'better-auth/api';
import { queryRows, type Db } from '@objectos/db';
import { auditEvent, createAuditEmitter, type AuditEvent, type AuditEventType, type EventBus } from '@objectos/events';
import { REQUEST_ID_HEADER } from '@objectos/observability';
import type { PolicyDefinition, SsoMappingDefinition } from '@objectos/metadata';
import type { Notifier } from '@objectos/notifications';
import { CLIENT_IP_HEADER, deriveKey } from '@objectos/principal';
import { AUTH_SCHEMA, buildAuthTables } from './auth-tables.ts';
import { passwordProblems } from './password-policy.ts';
import { emailOtpGate, mailSender } from './auth-mail.ts';
import { plugins } from './auth-plugins.ts';
import { oauthEvent, ssoEvent } from './sso.ts';
import { guardSsoEmail, guardSsoProvider, idpTrust, ssoUserHooks } from './sso-guard.ts';
import { socialOrigins, socialProvidersOf, type SocialConfig } from './social.ts';
import { DEFAULT_IMPERSONATION_MINUTES, refuseOperatorGrants } from './operators.ts';

export { API_KEY_PREFIX } from './auth-plugins.ts';

export interface AuthOptions {
  db: Db;
  /** OBJECTOS_SECRET; better-auth gets its own key derived from it. */
  secret: string;
  /** Public URL of the gateway (better-auth needs it: GHSA-569q-mpph-wgww). */
  baseURL: string;
  /** Origins allowed to send cookie-authenticated requests. */
  trustedOrigins: string[];
  policy: PolicyDefinition;
  bus: EventBus;
  /** How long an operator's impersonation session lasts; 0 turns impersonation off. @default 15 */
  impersonationMinutes?: number;
  /** Sends verification, password reset and invitation mail through the job queue; absent: no mail is sent. */
  notifier?: Notifier;
  emailOtp?: boolean; // OBJECTOS_EMAIL_OTP: email one-time codes for verification and sign-in
  /**
   * Origins of the identity providers organizations may register for SSO (OBJECTOS_SSO_ISSUERS, wildcards as
   * better-auth reads them: `https://*.okta.com`): every issuer and endpoint. @default none: no provider can be registered
   */
  ssoIssuers?: string[];
  /** SSO sign-in only once the provider's domains are proved (DNS TXT); the schema is the same either way. @default true */
  ssoDomainVerification?: boolean;
  /** Just-in-time access per SSO provider (`*.sso.yaml`). */
  ssoMappings?: SsoMappingDefinition[];
  /** Social sign-in: Google, GitHub, Microsoft and generic OAuth/OIDC providers (see socialFromEnv). */
  social?: SocialConfig;
}

/** Password history: the identity subgraph's own table beside better-auth's (PasswordPolicy.historyCount). */
export const PASSWORD_HISTORY_DDL = `create table if not exists "${AUTH_SCHEMA}"."password_history" (
  "id" text primary key, "user_id" text not null references "${AUTH_SCHEMA}"."user"("id") on delete cascade,
  "hash" text not null, "created_at" timestamptz not null default now())`;

const PASSWORD_PATHS: Record<string, 'password' | 'newPassword'> = {
  '/sign-up/email': 'password',
  '/change-password': 'newPassword',
  '/reset-password': 'newPassword',
  '/admin/create-user': 'password',
  '/admin/set-user-password': 'newPassword',
};

const minutes = (m: number): number => Math.max(1, Math.round(m * 60));

export type Auth = ReturnType<typeof createAuth>['auth'];

/**
 * better-auth with email/password, sessions (cookie and bearer), organizations, TOTP 2FA with backup
 * codes, API keys and admin actions, on the drizzle adapter over the same database as the data.
 */
export function createAuth(o: AuthOptions) {
  const impersonationMinutes = o.impersonationMinutes ?? DEFAULT_IMPERSONATION_MINUTES;
  const mail = mailSender(o.notifier);
  const authPlugins = plugins(impersonationMinutes, mail, o.baseURL, o.social, o.ssoDomainVerification ?? true);
  const tables = buildAuthTables({ plugins: [...plugins(impersonationMinutes, mail, o.baseURL, o.social, true)] });
  const { password: pw, session: sp } = o.policy;
  // Durable first (events.audit_outbox, before the response leaves), then the bus: caches and sockets react at once.
  const record = createAuditEmitter(o.db, o.bus);
  const emitFor = (type: AuditEventType, e: Partial<AuditEvent> & { userId?: string | null; ip?: string | null; userAgent?: string | null }) =>
    record(
      auditEvent({
        eventType: type,
        actor: e.actor ?? { type: 'user', id: e.userId ?? null, ipAddress: e.ip ?? null, userAgent: e.userAgent ?? null },
        description: e.description ?? type,
        tenantId: e.tenantId ?? null,
        requestId: e.requestId ?? null,
        ...(e.result ? { result: e.result } : {}),
        ...(e.severity ? { severity: e.severity } : {}),
        ...(e.target ? { target: e.target } : {}),
        ...(e.details ? { details: e.details } : {}),
      }),
    );
  /** The account and first organization of an email (a failed sign-in is its organization's concern). */
  const accountOf = async (email: string): Promise<{ userId: string | null; tenantId: string | null }> => {
    if (!email) return { userId: null, tenantId: null };
    const rows = await queryRows<{ id: string; organization_id: string | null }>(o.db, sql`select u.id, (select m.organization_id from auth.member m where m.user_id = u.id order by m.created_at limit 1) as organization_id
      from auth."user" u where lower(u.email) = lower(${email}) limit 1`);
    return { userId: rows[0]?.id ?? null, tenantId: rows[0]?.organization_id ?? null };
  };

  const checkEmailOtp = emailOtpGate(o.db, o.emailOtp ?? false);

  /** The user of the session a /sign-out request deleted (per request context). */
  const signedOut = new WeakMap<object, { userId: string; organizationId: string | null }>();
  const idleSeconds = minutes(sp.idleTimeout);
  const idp = idpTrust(o.baseURL, o.trustedOrigins, [...(o.ssoIssuers ?? []), ...socialOrigins(o.social)]);
  const auth = betterAuth({
    appName: 'ObjectOS',
    baseURL: o.baseURL,
    basePath: '/api/auth',
    secret: deriveKey(o.secret, 'better-auth'),
    trustedOrigins: idp.trustedOrigins,
    socialProviders: socialProvidersOf(o.social),
    telemetry: { enabled: false },
    database: drizzleAdapter(o.db, { provider: 'pg', schema: tables.schema }),
    emailAndPassword: {
      enabled: true,
      minPasswordLength: pw.minLength,
      maxPasswordLength: 128,
      revokeSessionsOnPasswordReset: true,
      sendResetPassword: ({ user, url, token }) => mail('password_reset', { email: user.email, userId: user.id }, { name: user.name || user.email, url }, `password_reset:${token}`),
    },
    emailVerification: {
      sendOnSignUp: Boolean(o.notifier),
      sendVerificationEmail: ({ user, url, token }) => mail('verify_email', { email: user.email, userId: user.id }, { name: user.name || user.email, url }, `verify_email:${token}`),
    },
    session: {
      // Idle timeout: a session unused for this long expires; each use (past updateAge) extends it.
      expiresIn: idleSeconds,
      updateAge: Math.max(1, Math.min(300, Math.floor(idleSeconds / 4))),
      // A cached session cookie would outlive revocation and 2FA (GHSA-xg6x-h9c9-2m83).
      cookieCache: { enabled: false },
    },
    // The gateway rate-limits sign-in and 2FA per account and IP, shared across replicas (Redis).
    rateLimit: { enabled: false },
    advanced: {
      // better-auth skips its origin check when NODE_ENV=test; explicit, so tests run the production rule.
      disableOriginCheck: false,
      ipAddress: { ipAddressHeaders: [CLIENT_IP_HEADER], ipv6Subnet: 64 },
      database: { generateId: () => randomUUID() },
    },
    plugins: [...authPlugins],
    databaseHooks: {
      session: {
        create: {
          // A new session starts in the user's first organization, so data requests have a tenant.
          before: async (session, ctx) => {
            await guardSsoEmail(o.db, ctx, { userId: session.userId });
            if (session.activeOrganizationId) return;
            const rows = await queryRows<{ organization_id: string }>(
              o.db,
              sql`select organization_id from auth.member where user_id = ${session.userId} order by created_at limit 1`,
            );
            const org = rows[0]?.organization_id;
            return org ? { data: { ...session, activeOrganizationId: org } } : undefined;
          },
        },
        // Sign-out deletes its session before the after hook runs (which then has no session): note
        // whose it was, so the auth.logout event names the user and listeners (principal caches on
        // every gateway, open WebSockets) can end that user's access at once.
        delete: {
          before: async (session, ctx) => {
            if (ctx?.path === '/sign-out') signedOut.set(ctx.context, { userId: session.userId, organizationId: (session as { activeOrganizationId?: string | null }).activeOrganizationId ?? null });
          },
        },
      },
      user: ssoUserHooks(o.db),
      account: {
        create: { before: async (a, ctx) => void await guardSsoEmail(o.db, ctx, { userId: a.userId }, a.providerId), after: async (a) => recordPassword(a.userId, a.password) },
        update: {
          // History is checked here, where the endpoint has already authenticated the change
          // (change-password's session, reset-password's token), and before anything is written.
          before: async (a, ctx) => {
            const plain = (ctx?.body as { newPassword?: unknown } | undefined)?.newPassword;
            if (typeof a.password !== 'string' || typeof plain !== 'string' || pw.historyCount === 0) return;
            const userId = ctx?.context.session?.user.id ?? (await resetTokenUser(ctx?.body));
            if (userId && (await reused(userId, plain, (hash) => ctx!.context.password.verify({ hash, password: plain }))))
              throw new APIError('BAD_REQUEST', {
                code: 'PASSWORD_REUSED',
                message: `The password was used recently: choose one different from the last ${pw.historyCount}.`,
              });
          },
          after: async (a) => {
            if (typeof a.password === 'string') await recordPassword(String(a.userId), a.password);
          },
        },
      },
    },
    hooks: {
      before: createAuthMiddleware(async (ctx) => {
        refuseOperatorGrants(ctx.path, ctx.body, impersonationMinutes);
        await guardSsoProvider(o.db, ctx.path, ctx.body as Record<string, unknown> | undefined, o.ssoIssuers ?? [], idp.appOrigins);
        idp.refuseRedirects(ctx.path, ctx.body, ctx.query);
        if (ctx.path.startsWith('/email-otp/') || ctx.path.endsWith('/email-otp')) await checkEmailOtp(ctx.path, ctx.body);
        const field = PASSWORD_PATHS[ctx.path];
        const password = field ? (ctx.body as Record<string, unknown> | undefined)?.[field] : undefined;
        if (typeof password !== 'string') return;
        const problems = passwordProblems(password, pw);
        if (problems.length > 0)
          throw new APIError('BAD_REQUEST', { code: 'PASSWORD_POLICY', message: `The password does not meet the policy: it needs ${problems.join(', ')}.` });
      }),
      // Awaited: an event is published before the response leaves, so every gateway has evicted the
      // affected principals by the time the client can send its next request.
      after: createAuthMiddleware(async (ctx) => {
        const returned = ctx.context.returned;
        const failed = isAPIError(returned);
        const ip = ctx.request?.headers.get(CLIENT_IP_HEADER) ?? null;
        // Organization routes leave no session on the context: read the caller's from the request, so
        // every event names who acted.
        const session = ctx.context.newSession ?? ctx.context.session
          ?? (ctx.path.startsWith('/organization/') ? await getSessionFromCtx(ctx).catch(() => null) : null);
        const userId = session?.user.id ?? null;
        const body = (ctx.body ?? {}) as Record<string, unknown>;
        const userAgent = ctx.request?.headers.get('user-agent') ?? null;
        const requestId = ctx.request?.headers.get(REQUEST_ID_HEADER) ?? null;
        const sessionTenant = (session?.session as { activeOrganizationId?: string | null } | undefined)?.activeOrganizationId ?? null;
        // Every event of this request: its client, its request id, and the caller's organization unless it names another.
        const emit = (type: AuditEventType, e: Parameters<typeof emitFor>[1]) => emitFor(type, { userAgent, requestId, ...e, tenantId: e.tenantId ?? sessionTenant });
        if (ctx.path.startsWith('/sso/')) return void await ssoEvent(o.db, { mappings: o.ssoMappings ?? [], path: ctx.path, failed, returned, userId, newSession: ctx.context.newSession?.session ?? null, body, params: ctx.params, emit, ip, userAgent });
        if (ctx.path === '/callback/:id') return void await oauthEvent({ returned, userId: ctx.context.newSession?.user.id ?? null, params: ctx.params, emit, ip, userAgent });
        switch (ctx.path) {
          case '/sign-in/email': {
            if (failed) {
              const email = String(body.email ?? '').slice(0, 320);
              const known = await accountOf(email);
              return void await emit('auth.login_failed', {
                actor: { type: 'user', id: null, ipAddress: ip, userAgent }, result: 'failure', severity: 'warning', tenantId: known.tenantId,
                ...(known.userId ? { target: { type: 'user', id: known.userId } } : {}), details: { email },
              });
            }
            const partial = (returned as { twoFactorRedirect?: boolean } | undefined)?.twoFactorRedirect === true;
            return void await emit('auth.login', { userId, ip, result: partial ? 'partial' : 'success', description: partial ? 'password accepted; second factor pending' : 'signed in' });
          }
          case '/sign-in/email-otp':
            return void await (failed
              ? emit('auth.login_failed', { actor: { type: 'user', id: null, ipAddress: ip, userAgent }, result: 'failure', severity: 'warning', description: 'email code refused', details: { email: String(body.email ?? '').slice(0, 320) } })
              : emit('auth.login', { userId, ip, description: 'signed in with an email code' }));
          case '/two-factor/verify-totp':
          case '/two-factor/verify-backup-code':
          case '/two-factor/verify-otp':
            return void await (failed
              ? emit('auth.login_failed', { actor: { type: 'user', id: null, ipAddress: ip, userAgent }, result: 'failure', severity: 'warning', description: 'second factor refused' })
              : emit('auth.login', { userId, ip, description: 'signed in with a second factor' }));
          case '/sign-up/email':
            return void await (failed ? undefined : emit('auth.login', { userId, ip, description: 'signed up' }));
          case '/sign-out': {
            const gone = signedOut.get(ctx.context);
            const who = userId ?? gone?.userId ?? null;
            return void await emit('auth.logout', { userId: who, ip, tenantId: gone?.organizationId ?? null, details: { userId: who } });
          }
          case '/change-password':
          case '/reset-password':
            return void await (failed ? undefined : emit(ctx.path === '/change-password' ? 'auth.password_changed' : 'auth.password_reset', { userId, ip, details: { userId } }));
          case '/two-factor/enable':
          case '/two-factor/disable':
            return void await (failed ? undefined : emit(ctx.path.endsWith('enable') ? 'auth.mfa_enabled' : 'auth.mfa_disabled', { userId, ip, details: { userId } }));
          case '/revoke-session':
          case '/revoke-sessions':
          case '/revoke-other-sessions':
            return void await (failed ? undefined : emit('auth.session_revoked', { userId, ip, details: { userId } }));
          case '/admin/ban-user':
          case '/admin/revoke-user-sessions':
          case '/admin/revoke-user-session':
          case '/admin/remove-user':
            return void await (failed
              ? undefined
              : emit(ctx.path === '/admin/ban-user' ? 'auth.account_locked' : 'auth.session_revoked', {
                  userId,
                  ip,
                  severity: 'notice',
                  target: { type: 'user', id: String(body.userId ?? '') },
                  details: { userId: String(body.userId ?? '') },
                }));
          case '/admin/impersonate-user':
          case '/admin/stop-impersonating':
            return void await impersonationEvent(ctx.path, failed, returned, ctx.context.session, body, ip);
          case '/admin/unban-user':
            return void await (failed ? undefined : emit('auth.account_unlocked', { userId, ip, target: { type: 'user', id: String(body.userId ?? '') } }));
          case '/organization/accept-invitation':
          case '/organization/add-member':
            return void await (failed
              ? undefined
              : emit('authz.role_assigned', { userId, ip, details: { userId: ctx.path === '/organization/add-member' ? String(body.userId ?? '') : (userId ?? '') } }));
          case '/organization/remove-member':
          case '/organization/update-member-role':
          case '/organization/leave':
          case '/organization/delete': {
            if (failed) return;
            // The organization comes from the body, else from what the route returned (the member it
            // changed): these routes run without ctx.context.session, so the caller's active
            // organization is not known here. An empty id would affect nobody's cached access.
            const organizationId = organizationOf(body, returned) ?? session?.session.activeOrganizationId ?? '';
            // Whoever is no longer a member loses their role, permission sets, groups and shares with it: a
            // member added again later starts from the default profile, not from what they had.
            if (ctx.path !== '/organization/update-member-role') await forgetFormerMembers(organizationId);
            return void await emit(ctx.path === '/organization/update-member-role' ? 'authz.role_assigned' : 'authz.role_removed', {
              userId,
              ip,
              tenantId: organizationId,
              details: { organizationId },
            });
          }
          case '/api-key/create':
          case '/api-key/delete':
          case '/api-key/update':
            return void await (failed
              ? undefined
              : emit(ctx.path === '/api-key/create' ? 'security.api_key_created' : 'security.api_key_revoked', { userId, ip, details: { userId, apiKeyId: String(body.keyId ?? '') } }));
        }
      }),
    },
  });

  type ImpersonationSession = { id?: string; userId?: string; impersonatedBy?: string | null; expiresAt?: Date | string; activeOrganizationId?: string | null };
  /**
   * Impersonation is audited from both ends: who acted as whom, in which tenant, until when. A refused
   * attempt is a security event. `details.userId` names the impersonated user, so principal caches and
   * live sockets drop that user's impersonated access as soon as it stops.
   */
  async function impersonationEvent(
    path: string,
    failed: boolean,
    returned: unknown,
    current: { session: ImpersonationSession; user: { id: string } } | null | undefined,
    body: Record<string, unknown>,
    ip: string | null,
  ): Promise<void> {
    if (path === '/admin/impersonate-user') {
      const target = String(body.userId ?? '');
      if (failed)
        return emitFor('security.access_denied', { userId: current?.user.id ?? null, ip, result: 'failure', severity: 'warning', description: 'impersonation refused', target: { type: 'user', id: target }, details: { action: 'impersonate', impersonatedUserId: target } });
      const s = (returned as { session?: ImpersonationSession } | undefined)?.session ?? {};
      return emitFor('auth.session_created', {
        userId: s.impersonatedBy ?? current?.user.id ?? null,
        ip,
        severity: 'warning',
        description: `impersonation started (ends within ${impersonationMinutes} minutes)`,
        tenantId: s.activeOrganizationId ?? null,
        target: { type: 'user', id: target },
        details: { userId: target, impersonatedBy: s.impersonatedBy ?? null, sessionId: s.id ?? null, expiresAt: s.expiresAt ? new Date(s.expiresAt).toISOString() : null },
      });
    }
    if (failed || !current?.session.impersonatedBy) return;
    return emitFor('auth.session_revoked', {
      userId: current.session.impersonatedBy,
      ip,
      severity: 'notice',
      description: 'impersonation stopped',
      tenantId: current.session.activeOrganizationId ?? null,
      target: { type: 'user', id: current.user.id },
      details: { userId: current.user.id, impersonatedBy: current.session.impersonatedBy, sessionId: current.session.id ?? null },
    });
  }

  /** The organization an organization route acted on: named in its body, or in the member it returned. */
  function organizationOf(body: Record<string, unknown>, returned: unknown): string | null {
    if (typeof body.organizationId === 'string' && body.organizationId) return body.organizationId;
    const r = returned as { organizationId?: unknown; member?: { organizationId?: unknown } } | null | undefined;
    const id = r?.organizationId ?? r?.member?.organizationId;
    return typeof id === 'string' && id ? id : null;
  }

  async function forgetFormerMembers(organizationId: string): Promise<void> {
    await o.db.execute(sql`delete from security.member_access a
      where ${organizationId ? sql`a.organization_id = ${organizationId} and ` : sql``}not exists
        (select 1 from auth.member m where m.organization_id = a.organization_id and m.user_id = a.user_id)`);
    // Manual shares to them too: a grant left behind would wait for their return, months later.
    await o.db.execute(sql`delete from security.record_share r
      where r.shared_with_type = 'user' and ${organizationId ? sql`r.organization_id = ${organizationId} and ` : sql``}not exists
        (select 1 from auth.member m where m.organization_id = r.organization_id and m.user_id = r.shared_with)`);
  }

  async function recordPassword(userId: string, hash: string | null | undefined): Promise<void> {
    if (!hash) return;
    await o.db.execute(sql`insert into auth.password_history (id, user_id, hash) values (${randomUUID()}, ${userId}, ${hash})`);
  }

  async function reused(userId: string, _password: string, matches: (hash: string) => Promise<boolean>): Promise<boolean> {
    const recent = await queryRows<{ hash: string }>(
      o.db,
      sql`select hash from auth.password_history where user_id = ${userId} order by created_at desc limit ${pw.historyCount}`,
    );
    for (const r of recent) if (await matches(r.hash)) return true;
    return false;
  }

  async function resetTokenUser(body: unknown): Promise<string | undefined> {
    const token = (body as { token?: unknown } | undefined)?.token;
    if (typeof token !== 'string') return undefined;
    const rows = await queryRows<{ value: string }>(o.db, sql`select value from auth.verification where identifier = ${`reset-password:${token}`} limit 1`);
    return rows[0]?.value;
  }

  return { auth, tables };
}

export { AUTH_SCHEMA };
