import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMetadata, MetadataError } from '@objectos/metadata';
import type { GraphQLResult } from '@objectos/testkit';
import { create, dataEngines, startDataRig, type DataRig } from './data-depth-kit.ts';

/** A public catalogue: guests read customer accounts' name and industry, nothing else. */
const GUEST_PROFILE = `name: public_catalogue
label: Public catalogue
isProfile: true
defaultFor: [guest]
objects:
  account: { allowRead: true }
fields:
  account.annual_revenue: { readable: false }
  account.phone: { readable: false }
`;
const GUEST_RULE = `name: customers_are_public
object: account
type: criteria
condition: "type = 'customer'"
accessLevel: read
sharedWith: { type: guest }
`;

/**
 * The guest profile (#19 point 10): metadata grants anonymous users read access to named objects and
 * fields of one organization (OBJECTOS_GUEST_ORGANIZATION); everything else stays 401.
 */
for (const engine of dataEngines) {
  describe(`guest profile (${engine})`, () => {
    let d: DataRig;
    let secret: string;
    beforeAll(async () => {
      d = await startDataRig(engine, 'guest', {
        extra: { 'security/public_catalogue.permission.yaml': GUEST_PROFILE, 'security/customers_are_public.sharing.yaml': GUEST_RULE },
        env: { OBJECTOS_GUEST_ORGANIZATION: `guest-${engine}` },
      });
      await create(d.q, 'Account', { name: 'Public Customer', type: 'customer', industry: 'retail', annualRevenue: 99, phone: '+1 555 0100' });
      await create(d.q, 'Account', { name: 'Another Customer', type: 'customer', industry: 'finance' });
      secret = await create(d.q, 'Account', { name: 'Secret Prospect', type: 'prospect' });
    }, 240_000);
    afterAll(() => d?.rig.close());

    const anonymous = async (query: string, variables: Record<string, unknown> = {}): Promise<{ status: number; body: GraphQLResult; auth: string | null }> => {
      const res = await fetch(`${d.rig.base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
      return { status: res.status, body: (await res.json()) as GraphQLResult, auth: res.headers.get('www-authenticate') };
    };

    it('reads what the guest profile grants: shared records, readable fields, in lists, by id, aggregates and search', async () => {
      const r = await anonymous('{ accounts(orderBy: [{ field: NAME }]) { totalCount nodes { name industry } aggregates { count } } }');
      expect(r.status).toBe(200);
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data).toEqual({ accounts: { totalCount: 2, nodes: [{ name: 'Another Customer', industry: 'finance' }, { name: 'Public Customer', industry: 'retail' }], aggregates: { count: 2 } } });
      const hidden = await anonymous('query($id: ID!) { account(id: $id) { name } }', { id: secret });
      expect(hidden.body.data).toEqual({ account: null });
      const found = await anonymous('{ search(text: "customer") { object record { ... on Account { name } } } }');
      expect(found.body.errors).toBeUndefined();
      expect((found.body.data as { search: unknown[] }).search).toHaveLength(2);
    });

    it('everything else is 401 UNAUTHENTICATED: hidden fields, other objects, writes, identity, admin surfaces', async () => {
      const refused = [
        '{ accounts { nodes { annualRevenue } } }',
        '{ accounts(where: { phone: { eq: "x" } }) { totalCount } }',
        '{ contacts { nodes { lastName } } }',
        '{ me { id } }',
        '{ health { status } }',
        'mutation { createAccount(input: { name: "Guest write" }) { id } }',
        'mutation { shareRecord(input: { object: "account", recordId: "00000000-0000-4000-8000-000000000000", sharedWithType: USER, sharedWith: "x", accessLevel: READ }) { id } }',
      ];
      for (const q of refused) {
        const r = await anonymous(q);
        expect(r.status, q).toBe(401);
        expect(r.auth, q).toContain('Bearer');
        expect(r.body.errors?.[0]?.extensions?.['code'], q).toBe('UNAUTHENTICATED');
        expect(r.body.data ?? null, q).toBeNull();
      }
      expect((await d.q<{ accounts: { totalCount: number } }>('{ accounts(where: { name: { eq: "Guest write" } }) { totalCount } }')).accounts.totalCount).toBe(0);
    });

    it('signed-in users keep their own access', async () => {
      const owner = await d.q<{ accounts: { totalCount: number } }>('{ accounts { totalCount } }');
      expect(owner.accounts.totalCount).toBe(3);
    });
  });
}

describe('guest profile metadata', () => {
  const load = (profile: string, rule?: string) => () => parseMetadata([
    { file: 'item.object.yaml', text: 'name: item\nfields:\n  name: { type: text }\n' },
    { file: 'guest.permission.yaml', text: profile },
    ...(rule ? [{ file: 'r.sharing.yaml', text: rule }] : []),
  ]);
  it('a guest profile only reads, is for guests alone and holds no system permission; each problem is named', () => {
    const e = (() => {
      try {
        load('name: guest_p\nisProfile: true\ndefaultFor: [guest, member]\nobjects:\n  item: { allowRead: true, allowEdit: true, modifyAllRecords: true }\nfields:\n  item.name: { readable: true, editable: true }\nsystemPermissions: [viewSetup]\n')();
        return null;
      } catch (x) {
        return x as MetadataError;
      }
    })();
    expect(e).toBeInstanceOf(MetadataError);
    for (const m of ['a guest profile is for guests alone', 'allowEdit is not allowed in a guest profile', 'modifyAllRecords is not allowed in a guest profile', 'a field cannot be editable in a guest profile', 'a guest profile cannot hold system permissions'])
      expect(e!.message).toContain(m);
  });
  it('sharing with guests needs a guest profile and read access', () => {
    const rule = 'name: r\nobject: item\ntype: criteria\ncondition: "name = \'x\'"\naccessLevel: edit\nsharedWith: { type: guest }\n';
    expect(load('name: p\nisProfile: true\nobjects:\n  item: { allowRead: true }\n', rule)).toThrow(/sharing with guest users needs a guest profile/);
    expect(load('name: p\nisProfile: true\ndefaultFor: [guest]\nobjects:\n  item: { allowRead: true }\n', rule)).toThrow(/must have accessLevel read/);
  });
});
