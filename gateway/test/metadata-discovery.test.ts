import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMetadata } from '@objectos/metadata';
import { compile } from '@objectos/schema';
import { until } from '@objectos/testkit';
import { dataEngines, startDataRig, type DataRig } from './data-depth-kit.ts';

/**
 * The member's profile here: accounts (revenue hidden, name read-only), contacts read-only, tasks (their
 * subject, the display name, hidden); no opportunity, case or leave request at all.
 */
const SALES_ONLY = `name: sales_only
label: Sales Only
isProfile: true
objects:
  account: { allowRead: true, allowCreate: true, allowEdit: true }
  contact: { allowRead: true }
  task: { allowRead: true, allowCreate: true, allowEdit: true }
fields:
  account.annual_revenue: { readable: false }
  account.name: { readable: true, editable: false }
  task.subject: { readable: false }
`;

/** Every field of the GraphQL description, so it can be compared with the REST one whole. */
const OBJECT_FIELDS = `name label pluralLabel description icon displayNameField
  enable { trash searchable trackHistory apiMethods }
  permissions { read create edit delete }
  graphql { typeName singleField listField trashField createMutation updateMutation deleteMutation restoreMutation purgeMutation transferMutation changedSubscription }
  fields { name graphqlName label description type required unique searchable hidden readonly editable defaultValue minLength maxLength min max precision scale options { label value color default } reference relationField expression summaryOperations returnType }
  childRelationships { name object field }`;

interface Field { name: string; graphqlName: string; editable: boolean; reference: string | null; relationField: string | null; options: { value: string; default: boolean }[] | null }
interface Described { name: string; displayNameField: string | null; icon: string | null; permissions: Record<string, boolean>; graphql: Record<string, string | null>; fields: Field[]; childRelationships: { name: string }[] }
/** Over REST the fields are keyed by name (the spec's ObjectSchema). */
type RestDescribed = Omit<Described, 'fields'> & { fields: Record<string, Field> };

/** Issue #19 point 9: discovery, and metadata that describes only what the caller may read. */
for (const engine of dataEngines) {
  describe(`metadata discovery (${engine})`, () => {
    let d: DataRig;
    const get = (path: string, token?: string, init: RequestInit = {}) =>
      fetch(`${d.rig.base}${path}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string> | undefined) } });
    const rest = async (path: string, token: string) => {
      const r = await get(path, token);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('cache-control')).toBe('private, no-store');
      return r.json() as Promise<Record<string, unknown>>;
    };
    beforeAll(async () => {
      d = await startDataRig(engine, 'meta', { extra: { 'security/sales_only.permission.yaml': SALES_ONLY }, memberSets: ['sales_only'] });
    }, 240_000);
    afterAll(() => d?.rig.close());

    it('serves the discovery document publicly: routes, services and capabilities, no object named', async () => {
      const r = await get('/.well-known/objectstack');
      expect(r.status).toBe(200);
      expect(r.headers.get('cache-control')).toBe('no-store');
      const doc = (await r.json()) as Record<string, Record<string, unknown>>;
      expect(doc).toMatchObject({
        name: 'objectos', apiVersion: 'v1',
        routes: { graphql: '/graphql', realtime: '/graphql', metadata: '/api/v1/meta', auth: '/api/auth', health: '/health', ready: '/ready', discovery: '/.well-known/objectstack', auditExport: '/api/audit/export' },
        capabilities: { graphql: true, subscriptions: true, federation: true, metadata: true, search: true, aggregates: true, trash: true, trackHistory: true, explainAccess: true, introspection: true },
        schemaDiscovery: { graphql: '/graphql', openapi: null },
      });
      expect(typeof doc['version']).toBe('string');
      for (const s of ['data', 'identity', 'audit', 'automation', 'workflow', 'metrics', 'metadata'])
        expect(doc['services']![s], s).toMatchObject({ enabled: true, status: 'available', provider: 'objectos' });
      expect(doc['services']!['identity']).toMatchObject({ route: '/api/auth' });
      // It describes the server only: no object, field or record.
      expect(JSON.stringify(doc)).not.toMatch(/account|annual|leave_request/i);
      // The spec's other address of the same document; GET only.
      expect(await (await get('/api/v1')).json()).toEqual(doc);
      const post = await get('/.well-known/objectstack', undefined, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET');
    });

    it('describes every object and field to the owner, with their GraphQL names, REST and GraphQL alike', async () => {
      const list = (await rest('/api/v1/meta/objects', d.rig.owner)) as { type: string; items: RestDescribed[] };
      expect(list.type).toBe('object');
      expect(list.items.map((o) => o.name)).toEqual(['account', 'case', 'contact', 'leave_request', 'opportunity', 'task']);
      const account = list.items.find((o) => o.name === 'account')!;
      expect(account).toMatchObject({
        label: 'Account', pluralLabel: 'Accounts', icon: 'building', displayNameField: 'name',
        enable: { trash: true, searchable: true, trackHistory: true },
        permissions: { read: true, create: true, edit: true, delete: true },
        graphql: { typeName: 'Account', singleField: 'account', listField: 'accounts', trashField: 'trashedAccounts', createMutation: 'createAccount', restoreMutation: 'restoreAccount', changedSubscription: 'accountChanged' },
      });
      expect(account).not.toHaveProperty('sharingModel');
      expect(account.fields['annual_revenue']).toMatchObject({ graphqlName: 'annualRevenue', type: 'currency', editable: true, min: 0, precision: 18, scale: 2 });
      expect(account.fields['account_number']).toMatchObject({ type: 'autonumber', readonly: true, editable: false, unique: true });
      expect(account.fields['industry']!.options!.map((o) => o.value)).toEqual(['technology', 'finance', 'healthcare', 'manufacturing', 'retail']);
      expect(account.fields['type']!.options!.filter((o) => o.default).map((o) => o.value)).toEqual(['prospect']);
      expect(account.fields['parent_account']).toMatchObject({ graphqlName: 'parentAccountId', reference: 'account', relationField: 'parentAccount' });
      expect(account.childRelationships.map((c) => c.name).sort()).toEqual(['cases', 'childAccounts', 'contacts', 'opportunities', 'tasks']);
      // One builder: the GraphQL answer is the REST one, fields listed instead of keyed.
      const { objects } = await d.q<{ objects: Described[] }>(`{ objects { ${OBJECT_FIELDS} } }`);
      expect(objects.map((o) => ({ ...o, fields: Object.fromEntries(o.fields.map((f) => [f.name, f])) }))).toEqual(list.items);
      const one = (await rest('/api/v1/meta/objects/account', d.rig.owner)) as { type: string; name: string; item: RestDescribed };
      expect(one).toEqual({ type: 'object', name: 'account', item: account });
      expect(await rest('/api/v1/meta', d.rig.owner)).toEqual({ types: ['object'] });
    });

    it('leaves out of a member\'s description the fields, objects and lookup targets they cannot read', async () => {
      const list = (await rest('/api/v1/meta/objects', d.memberToken)) as { items: RestDescribed[] };
      expect(list.items.map((o) => o.name)).toEqual(['account', 'contact', 'task']);
      const [account, contact, task] = list.items as [RestDescribed, RestDescribed, RestDescribed];
      expect(Object.keys(account.fields)).not.toContain('annual_revenue');
      expect(JSON.stringify(list)).not.toMatch(/annual|revenue|leave|case_number/i);
      expect(list.items.flatMap((o) => Object.values(o.fields).map((f) => f.reference))).not.toContain('opportunity');
      expect(account.permissions).toEqual({ read: true, create: true, edit: true, delete: false });
      expect(account.fields['name']).toMatchObject({ editable: false, readonly: false });
      expect(account.fields['website']).toMatchObject({ editable: true });
      // Only children they can read, by a lookup they can read.
      expect(account.childRelationships.map((c) => c.name).sort()).toEqual(['childAccounts', 'contacts', 'tasks']);
      expect(contact.permissions).toEqual({ read: true, create: false, edit: false, delete: false });
      expect(Object.values(contact.fields).every((f) => !f.editable)).toBe(true);
      // The display-name field they cannot read is neither described nor named.
      expect(task.displayNameField).toBeNull();
      expect(Object.keys(task.fields)).not.toContain('subject');
      // A lookup to an object they cannot read is an id, its target not named.
      expect(task.fields['opportunity']).toMatchObject({ graphqlName: 'opportunityId', reference: null, relationField: null });
      expect(task.fields['account']).toMatchObject({ reference: 'account', relationField: 'account' });

      const { objects, hidden, unknown, own } = await d.m<{ objects: Described[]; hidden: Described | null; unknown: Described | null; own: Described }>(
        `{ objects { name fields { name graphqlName } } hidden: object(name: "leave_request") { name } unknown: object(name: "nope") { name } own: object(name: "account") { name fields { graphqlName } } }`,
      );
      expect(objects.map((o) => o.name)).toEqual(['account', 'contact', 'task']);
      expect(objects[0]!.fields.map((f) => f.graphqlName)).not.toContain('annualRevenue');
      expect(own.fields.map((f) => f.graphqlName)).not.toContain('annualRevenue');
      expect(hidden).toBeNull();
      expect(unknown).toBeNull();
    });

    it('answers an object the caller cannot read exactly like one that does not exist', async () => {
      const hidden = await get('/api/v1/meta/objects/leave_request', d.memberToken);
      const unknown = await get('/api/v1/meta/objects/leave_requests', d.memberToken);
      expect([hidden.status, unknown.status]).toEqual([404, 404]);
      const [h, u] = (await Promise.all([hidden.json(), unknown.json()])) as { error: { code: string; message: string } }[];
      expect(h).toEqual({ error: { code: 'NOT_FOUND', message: 'No object named "leave_request" that you can read.' } });
      expect(u!.error.message.replace('leave_requests', 'leave_request')).toBe(h!.error.message);
      expect([...hidden.headers.keys()].sort()).toEqual([...unknown.headers.keys()].sort());
      // The owner reads it; an unknown metadata type is unknown to everyone.
      expect(((await rest('/api/v1/meta/objects/leave_request', d.rig.owner)) as { name: string }).name).toBe('leave_request');
      expect((await get('/api/v1/meta/views', d.rig.owner)).status).toBe(404);
    });

    it('refuses anonymous callers (401), other methods (405) and cookies sent from another site (403)', async () => {
      for (const path of ['/api/v1/meta', '/api/v1/meta/objects', '/api/v1/meta/objects/account', '/api/v1/meta/anything']) {
        const r = await get(path);
        expect(r.status, path).toBe(401);
        expect(r.headers.get('www-authenticate')).toContain('Bearer');
        expect(JSON.stringify(await r.json())).not.toMatch(/account|annual/i);
        expect((await get(path, 'not-a-token')).status, path).toBe(401);
      }
      const post = await get('/api/v1/meta/objects', d.rig.owner, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET');
      const foreign = await get('/api/v1/meta/objects', undefined, { headers: { cookie: 'better-auth.session_token=x', origin: 'https://evil.example' } });
      expect(foreign.status).toBe(403);
    });

    it('follows a change of the member\'s permission sets: the demo profile shows cases and leave requests, never revenue', async () => {
      await d.q('mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { userId } }', { i: { userId: d.memberId, role: null, permissionSets: ['standard_user'], groups: [] } });
      const names = async () => ((await rest('/api/v1/meta/objects', d.memberToken)) as { items: RestDescribed[] }).items;
      const items = await until(names, (xs) => xs.length === 6);
      expect(items.map((o) => o.name)).toEqual(['account', 'case', 'contact', 'leave_request', 'opportunity', 'task']);
      expect(Object.keys(items[0]!.fields)).not.toContain('annual_revenue');
      expect(items.find((o) => o.name === 'opportunity')!.fields['probability']).toMatchObject({ editable: false });
      const { account } = await d.m<{ account: Described }>('{ account: object(name: "account") { fields { graphqlName } } }');
      expect(account.fields.map((f) => f.graphqlName)).not.toContain('annualRevenue');
    });
  });
}

describe('metadata discovery names', () => {
  it('are prefixed with the other generated names (OBJECTOS_NAME_PREFIX)', async () => {
    const { sdl } = compile(await loadMetadata('metadata'), { namePrefix: 'crm' }).subgraphs.data;
    expect(sdl).toContain('crmObjects: [CrmObjectMetadata!]!');
    expect(sdl).toContain('crmObject(name: String!): CrmObjectMetadata');
    for (const t of ['CrmObjectMetadata', 'CrmFieldMetadata', 'CrmSelectOption', 'CrmObjectPermissions', 'CrmObjectGraphQLNames', 'CrmChildRelationship', 'CrmObjectEnableFlags'])
      expect(sdl).toContain(`type ${t} {`);
  });
});
