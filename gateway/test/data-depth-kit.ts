import { gql, services, signIn, withHeaders, type GraphQLResult } from '@objectos/testkit';
import { startRulesApp, type RulesApp, type RulesEngine } from './rules-app.ts';

const PASSWORD = 'Sup3r-secret-pass!';

/** The engines a data API test runs on: PGlite always, PostgreSQL when it is there. */
export const dataEngines: RulesEngine[] = ['pglite', ...(services.postgres ? ['postgres' as const] : [])];

export type Ask = (query: string, variables?: Record<string, unknown>) => Promise<GraphQLResult>;

/**
 * ObjectOS on the demo metadata with its organization owner (every record) and a member with the
 * demo `standard_user` profile: own records only (accounts are private), `Account.annualRevenue` hidden.
 */
export interface DataRig {
  rig: RulesApp;
  owner: Ask;
  member: Ask;
  memberId: string;
  /** The member's bearer token (for routes beside GraphQL). */
  memberToken: string;
  /** As the owner; GraphQL errors throw. */
  q<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** As the member; GraphQL errors throw. */
  m<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

/** `extra`: metadata files added to the demo's; `memberSets`: the member's permission sets (default the demo profile). */
export async function startDataRig(engine: RulesEngine, slug: string, o: { extra?: Record<string, string>; memberSets?: string[]; env?: Record<string, string> } = {}): Promise<DataRig> {
  const rig = await startRulesApp({ engine, slug: `${slug}-${engine}`, ...(o.extra ? { extra: o.extra } : {}), ...(o.env ? { env: o.env } : {}) });
  const orgId = (await rig.q<{ activeOrganization: { id: string } }>('{ activeOrganization { id } }')).activeOrganization.id;
  const auth = (path: string, body: unknown, token?: string) =>
    fetch(`${rig.base}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  const email = `mia@${slug}-${engine}.test`;
  const memberId = ((await (await auth('/sign-up/email', { email, password: PASSWORD, name: 'Mia Member' })).json()) as { user: { id: string } }).user.id;
  await rig.app.identity!.auth.api.addMember({ body: { userId: memberId, organizationId: orgId, role: 'member' } });
  await rig.q('mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { userId } }', { i: { userId: memberId, role: null, permissionSets: o.memberSets ?? ['standard_user'], groups: [] } });
  const token = await signIn(rig.base, email, PASSWORD);
  await auth('/organization/set-active', { organizationId: orgId }, token);
  const ownerEndpoint = withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${rig.owner}` });
  const memberEndpoint = withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${token}` });
  const owner: Ask = (query, variables = {}) => gql(ownerEndpoint, query, variables);
  const member: Ask = (query, variables = {}) => gql(memberEndpoint, query, variables);
  const strict = (ask: Ask) => async <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => {
    const r = await ask(query, variables);
    if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
    return r.data as T;
  };
  return { rig, owner, member, memberId, memberToken: token, q: strict(owner), m: strict(member) };
}

/** Creates a record through the API and returns its id. */
export async function create(ask: DataRig['q'], type: string, input: Record<string, unknown>): Promise<string> {
  const r = await ask<Record<string, { id: string }>>(`mutation($i: ${type}CreateInput!) { r: create${type}(input: $i) { id } }`, { i: input });
  return r['r']!.id;
}
