import { sql } from 'drizzle-orm';
import { queryRows } from '@objectos/db';
import { signIn } from '@objectos/testkit';
import { startRulesApp, type RulesApp, type RulesEngine } from './rules-app.ts';

export const PASSWORD = 'Sup3r-secret-pass!';
export const SCIM_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const SCIM_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** One running ObjectOS whose organization holds a verified SSO domain (`<slug>.test`) and a SCIM token. */
export interface ScimRig {
  rig: RulesApp;
  domain: string;
  organizationId: string;
  token: string;
  /** A SCIM request through the gateway with this organization's token (or `token`). */
  scim(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: Record<string, unknown> }>;
  /** A user who signed up with a password, verified their address and joined the organization; signed in. */
  member(local: string): Promise<{ userId: string; email: string; bearer: string }>;
  /** Every audit event of the organization's trail (after the capture drained). */
  events(type: string): Promise<{ details: Record<string, unknown>; actor_type: string; actor_id: string | null }[]>;
  close(): Promise<void>;
}

export async function startScimRig(engine: RulesEngine, slug: string, env: Record<string, string> = {}, extra: Record<string, string> = {}): Promise<ScimRig> {
  const rig = await startRulesApp({ engine, slug, env, extra });
  const identity = rig.app.identity!;
  const db = identity.database.db;
  const domain = `${slug}.test`;
  const [org] = await queryRows<{ id: string; owner: string }>(db, sql`select o.id, m.user_id as owner from auth.organization o join auth.member m on m.organization_id = o.id where o.slug = ${slug}`);
  // The organization's SSO provider with its domain proved (the SSO tests prove it by DNS; here it is a given).
  await db.execute(sql`insert into auth.sso_provider (id, issuer, oidc_config, user_id, provider_id, organization_id, domain, domain_verified)
    values (gen_random_uuid()::text, 'https://idp.example', '{}', ${org!.owner}, ${`${slug}-idp`}, ${org!.id}, ${domain}, true)`);
  const created = await rig.q<{ createScimToken: { token: string } }>('mutation { createScimToken(input: { name: "Okta" }) { token } }');
  const scimRig: ScimRig = {
    rig, domain, organizationId: org!.id, token: created.createScimToken.token,
    async scim(method, path, body, token = scimRig.token) {
      const r = await fetch(`${rig.base}/api/auth/scim/v2${path}`, {
        method, headers: { authorization: `Bearer ${token}`, accept: 'application/scim+json', ...(body ? { 'content-type': 'application/scim+json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await r.text();
      return { status: r.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    async member(local) {
      const email = `${local}@${domain}`;
      const { user } = await identity.auth.api.signUpEmail({ body: { email, password: PASSWORD, name: local } });
      await db.execute(sql`update auth."user" set email_verified = true where id = ${user.id}`);
      await identity.auth.api.addMember({ body: { userId: user.id, organizationId: org!.id, role: 'member' } });
      return { userId: user.id, email, bearer: await signIn(rig.base, email, PASSWORD) };
    },
    async events(type) {
      await rig.app.audit?.capture.drain();
      return rig.app.identity!.database.run<{ details: Record<string, unknown>; actor_type: string; actor_id: string | null }>(
        'select details, actor_type, actor_id from audit.events where event_type = $1 and (tenant_id = $2 or tenant_id is null) order by occurred_at, seq', [type, org!.id]);
    },
    close: () => rig.close(),
  };
  return scimRig;
}

/** The user an email belongs to, their organization role there, their groups and whether they are locked. */
export async function stateOf(s: ScimRig, email: string): Promise<{ userId: string | null; role: string | null; groups: string[] | null; banned: boolean; sessions: number }> {
  const [u] = await queryRows<{ id: string; banned: boolean | null; role: string | null; groups: string[] | null; sessions: number }>(s.rig.app.identity!.database.db, sql`select u.id, u.banned,
    (select m.role from auth.member m where m.user_id = u.id and m.organization_id = ${s.organizationId}) as role,
    (select a.groups from security.member_access a where a.user_id = u.id and a.organization_id = ${s.organizationId}) as groups,
    (select count(*)::int from auth.session x where x.user_id = u.id) as sessions
    from auth."user" u where lower(u.email) = lower(${email})`);
  return { userId: u?.id ?? null, role: u?.role ?? null, groups: u?.groups ?? null, banned: u?.banned === true, sessions: u?.sessions ?? 0 };
}
