import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import WebSocket from 'ws';
import { services, signIn, withHeaders, gql } from '@objectos/testkit';
import { startRulesApp, until, type RulesApp, type RulesEngine } from './rules-app.ts';
import { collect } from './realtime-stack.ts';

const PASSWORD = 'Sup3r-secret-pass!';
const RULE = 'security/strategic_accounts_to_key_team.sharing.yaml';
const SUB = 'subscription($after: ID, $where: AccountWhere) { accountChanged(after: $after, where: $where) { op recordId eventId record { name } } }';
interface Change { op: string; recordId: string; eventId: string; record: { name: string } | null }
const changes = (results: { data?: unknown }[]) => results.filter((r) => r.data).map((r) => (r.data as { accountChanged: Change }).accountChanged);
const errorsOf = (results: { errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }[]) => results.flatMap((r) => r.errors ?? []).map((e) => `${e.extensions?.['code']}: ${e.message}`);

/**
 * Issue #20 point 3, a sharing-rule change by a deploy: the processes restart on the new metadata, live
 * subscriptions drop, and clients resume with `after`. A client whose last event was delivered under the
 * old rules is told first which records its `where` matched then and the new rules hide (LEFT, ids
 * only, carrying its resume point), then the events it missed that it may still read, then live ones.
 * The rules each event was delivered under are recorded per deploy (events.rule_epochs), so this holds
 * across several restarts; a restart that keeps the rules tells nothing.
 */
const variants: RulesEngine[] = ['pglite', ...(services.postgres ? ['postgres' as const] : [])];
for (const engine of variants) {
  describe(`a sharing-rule change by a deploy tells resuming subscribers what left their view (${engine})`, () => {
    let rig: RulesApp;
    let member: string;
    let logs: MockInstance<typeof console.log>;
    const ids: Record<string, string> = {};
    const clients: Client[] = [];
    const ws = () => {
      const c = createClient({ url: `${rig.base.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${member}` }, retryAttempts: 0, lazy: true });
      clients.push(c);
      return c;
    };
    const rename = (name: string, to: string) => rig.q('mutation($id: ID!, $n: String!) { updateAccount(id: $id, input: { name: $n }) { id } }', { id: ids[name], n: to });
    const seen = async () => {
      const r = await gql<{ accounts: { nodes: { name: string }[] } }>(withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${member}` }), '{ accounts(first: 100) { nodes { name } } }');
      return r.data!.accounts.nodes.map((a) => a.name).sort();
    };
    /** Resumes from `after` and returns what arrived once `n` results did (and a moment more, for any extra). */
    const resume = async (after: string, n: number, where?: Record<string, unknown>) => {
      const sub = collect<{ accountChanged: Change }>(ws(), SUB, { after, ...(where ? { where } : {}) });
      await sub.until(n);
      await new Promise((r) => setTimeout(r, 400));
      sub.stop();
      return sub.results;
    };
    const disposeClients = () => Promise.all(clients.splice(0).map((c) => c.dispose()));

    beforeAll(async () => {
      logs = vi.spyOn(console, 'log').mockImplementation(() => {});
      rig = await startRulesApp({ engine, slug: `rules-deploy-${engine}` });
      const org = (await rig.q<{ activeOrganization: { id: string } }>('{ activeOrganization { id } }')).activeOrganization.id;
      const email = `kim@rules-deploy-${engine}.test`;
      const up = await fetch(`${rig.base}/api/auth/sign-up/email`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD, name: 'Kim Key' }) });
      const userId = ((await up.json()) as { user: { id: string } }).user.id;
      await rig.app.identity!.auth.api.addMember({ body: { userId, organizationId: org, role: 'member' } });
      // A member of the key account team: large accounts are shared with it (edit), the rest are the owner's alone.
      await rig.q('mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { userId } }', { i: { userId, role: null, permissionSets: [], groups: ['key_account_team'] } });
      member = await signIn(rig.base, email, PASSWORD);
      await fetch(`${rig.base}/api/auth/organization/set-active`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${member}` }, body: JSON.stringify({ organizationId: org }) });
      const made = await rig.q<Record<string, { id: string }>>(`mutation {
        big: createAccount(input: { name: "Big", employees: 5000 }) { id }
        mid: createAccount(input: { name: "Mid", employees: 2000 }) { id }
        small: createAccount(input: { name: "Small", employees: 10 }) { id } }`);
      for (const [k, v] of Object.entries(made)) ids[k[0]!.toUpperCase() + k.slice(1)] = v.id;
      await rig.app.data!.relay.drain();
    }, 120_000);
    afterAll(async () => {
      await disposeClients();
      await rig?.close();
      logs.mockRestore();
    });

    it('resuming after the deploy: LEFT for what the new rule hides, then the missed events still in view, then live; a second restart keeping the rules tells nothing', async () => {
      expect(await seen()).toEqual(['Big', 'Mid']);
      const live = collect<{ accountChanged: Change }>(ws(), SUB);
      await until(async () => rig.app.data!.hub.size(), (n) => n === 1);
      await rename('Big', 'Big 1');
      await rename('Mid', 'Mid 1');
      await rename('Small', 'Small 1');
      await live.until(2);
      const [e1, e2] = changes(live.results);
      expect([e1, e2].map((c) => [c!.op, c!.record?.name])).toEqual([['UPDATED', 'Big 1'], ['UPDATED', 'Mid 1']]);

      // The deploy: the rule now shares accounts of 3,000 employees or more (Mid, 2,000, leaves the team's view).
      await disposeClients();
      await rig.restart(async () => {
        const path = join(rig.metadata, RULE);
        await writeFile(path, (await readFile(path, 'utf8')).replace('$gte: 1000', '$gte: 3000'));
      });
      expect(await seen()).toEqual(['Big 1']);
      // Missed while away: a change of each (only Big's may still be read).
      await rename('Mid', 'Mid 2');
      await rename('Big', 'Big 2');
      await rig.app.data!.relay.drain();

      const resumed = collect<{ accountChanged: Change }>(ws(), SUB, { after: e2!.eventId });
      await resumed.until(2);
      await rename('Big', 'Big 3');
      await resumed.until(3);
      await new Promise((r) => setTimeout(r, 400));
      expect(errorsOf(resumed.results)).toEqual([]);
      expect(changes(resumed.results).map((c) => [c.op, c.recordId, c.record?.name ?? null])).toEqual([
        ['LEFT', ids['Mid'], null], ['UPDATED', ids['Big'], 'Big 2'], ['UPDATED', ids['Big'], 'Big 3'],
      ]);
      // The LEFT carries the resume point it was judged at; an id only.
      expect(changes(resumed.results)[0]!.eventId).toBe(e2!.eventId);
      const last = changes(resumed.results)[2]!.eventId;
      resumed.stop();

      // `where` bounds what it is told: a subscription of Big's name alone hears of no LEFT.
      expect(changes(await resume(e2!.eventId, 2, { name: { startsWith: 'Big' } })).map((c) => [c.op, c.record?.name])).toEqual([['UPDATED', 'Big 2'], ['UPDATED', 'Big 3']]);

      // A restart that keeps the rules: resuming from an event delivered under them tells no LEFT.
      await disposeClients();
      await rig.restart();
      await rename('Big', 'Big 4');
      expect(changes(await resume(last, 1)).map((c) => [c.op, c.record?.name])).toEqual([['UPDATED', 'Big 4']]);
      // From before the first deploy, still: the rules it was delivered under are on record.
      expect(changes(await resume(e1!.eventId, 4)).map((c) => [c.op, c.recordId, c.record?.name ?? null])).toEqual([
        ['LEFT', ids['Mid'], null], ['UPDATED', ids['Big'], 'Big 2'], ['UPDATED', ids['Big'], 'Big 3'], ['UPDATED', ids['Big'], 'Big 4'],
      ]);
    }, 120_000);
  });
}
