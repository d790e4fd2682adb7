import { execFileSync } from 'node:child_process';
import type { GraphQLObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@objectos/testkit';
import { composeSupergraph } from '../src/compose.ts';
import { apiSchemaOf, formatChanges, schemaChanges } from '../src/schema-diff.ts';

const FED = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@inaccessible"])';
const supergraph = (accounts: string, billing: string) => composeSupergraph([
  { name: 'accounts', url: 'http://accounts/graphql', sdl: `${FED}\n${accounts}` },
  { name: 'billing', url: 'http://billing/graphql', sdl: `${FED}\n${billing}` },
]);

describe('breaking-change report between two supergraphs (@graphql-inspector/core)', () => {
  const v1 = supergraph(
    'type Account @key(fields: "id") { id: ID! name: String! region: String secret: String @inaccessible } enum Tier { TEAM ENTERPRISE } type Query { accounts(first: Int): [Account!]! tier: Tier }',
    'type Account @key(fields: "id") { id: ID! plan: String }',
  );

  it('reads only the client-facing API of a supergraph: no join__ or link__ internals, nothing @inaccessible', () => {
    const api = apiSchemaOf(v1);
    expect(Object.keys(api.getTypeMap()).filter((t) => /^(join__|link__)/.test(t))).toEqual([]);
    expect(Object.keys((api.getType('Account') as GraphQLObjectType).getFields())).toEqual(['id', 'name', 'region', 'plan']);
  });

  it('sorts changes into breaking, dangerous and safe, naming each path', async () => {
    const v2 = supergraph(
      'type Account @key(fields: "id") { id: ID! name: String! email: String secret: Int @inaccessible } enum Tier { TEAM ENTERPRISE STARTUP } type Query { accounts(first: Int, after: String, region: String!): [Account!]! tier: Tier }',
      'type Account @key(fields: "id") { id: ID! plan: String }',
    );
    const c = await schemaChanges(v1, v2);
    expect(c.breaking.map((x) => x.path).sort()).toEqual(['Account.region', 'Query.accounts.region']);
    // An optional argument is dangerous to inspector: a client that omits it may now get other results.
    expect(c.dangerous.map((x) => x.path).sort()).toEqual(['Query.accounts.after', 'Tier.STARTUP']);
    expect(c.safe.map((x) => x.path)).toEqual(['Account.email']);
    const report = formatChanges(c, 'v1 → v2');
    expect(report.split('\n')[0]).toBe('v1 → v2: 2 breaking, 2 dangerous, 1 safe');
    expect(report).toMatch(/✗ breaking: Field 'region' was removed from object type 'Account'  \(Account\.region\)/);
    // The hidden field changed type: no client can see it, so nothing is reported.
    expect(report).not.toMatch(/secret/);
    expect(formatChanges(await schemaChanges(v1, v1), 'same')).toBe('same: no changes to the client-facing schema');
  });

  it('runs as `npm run schema:diff` against the committed public schema', () => {
    const out = execFileSync(process.execPath, ['--import', '@objectos/runtime/register', 'schema/src/diff-cli.ts', '--base', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(out).toMatch(/schema\/generated\/public\.graphql at HEAD → now: (no changes to the client-facing schema|\d+ breaking, \d+ dangerous, \d+ safe)/);
  });
});
