import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvent } from '@objectos/events';
import { engines, subscribeSse } from '@objectos/testkit';
import { PASSWORD } from './secure-stack.ts';
import { collect, startRealtimeStack, type RealtimeStack } from './realtime-stack.ts';
import { eventually } from './realtime-raw.ts';

// Security regression class "transport re-check": every live transport (SSE and WebSocket today; a new
// one joins TRANSPORTS) stops delivering as soon as an auth event ends or changes the subscriber's
// access, and delivers nothing written after the change took effect. One mechanism serves them all
// (gateway/src/auth/access-watch.ts); this table proves it per transport and per kind of change.

type Headers = Record<string, string>;
interface Member { userId: string; memberId: string; headers: Headers }
interface Live {
  /** Record names delivered so far. */
  names(): string[];
  /** Record ids told LEFT so far, and whether any of those carried values. */
  lefts(): { ids: string[]; values: boolean };
  /** Resolves once the stream or socket ended, with what the subscriber was told. */
  ended(ms?: number): Promise<string>;
  stop(): void;
}

const QUERY = 'subscription { accountChanged { op recordId record { name } previous { name } } }';
type Event = { op: string; recordId: string; record: { name?: string } | null; previous: unknown };
const eventOf = (r: unknown): Event | undefined => (r as { data?: { accountChanged?: Event } }).data?.accountChanged;
const nameOf = (r: unknown): string | undefined => eventOf(r)?.record?.name;
const leftOf = (results: unknown[]) => {
  const lefts = results.map(eventOf).filter((e): e is Event => e?.op === 'LEFT');
  return { ids: lefts.map((e) => e.recordId), values: lefts.some((e) => e.record !== null || e.previous !== null) };
};

/**
 * What ends a member's access, done by its owner (or an operator, or the member). Members start as
 * org `member` in the key account team (a sharing rule opens "Big" to it), or as org `admin` (view all).
 */
const CHANGES: Record<string, { start?: 'admin'; leaves?: true; change: (s: RealtimeStack, m: Member, owner: Headers) => Promise<void> }> = {
  // The member leaves the group a sharing rule opens the account to: queries stop returning it.
  'groups change (record no longer readable)': {
    leaves: true,
    change: async (s, m, owner) => {
      const r = await s.q(owner, 'mutation($u: ID!) { setMemberAccess(input: { userId: $u, permissionSets: [], groups: [] }) { groups } }', { u: m.userId });
      expect(r.errors).toBeUndefined();
    },
  },
  // An org admin (system administrator profile: view all) demoted to member (private, no group).
  'role change (record no longer readable)': {
    start: 'admin',
    leaves: true,
    change: async (s, m, owner) => {
      const r = await s.auth('/organization/update-member-role', { memberId: m.memberId, role: 'member' }, owner);
      expect(r.status).toBe(200);
    },
  },
  ban: {
    change: async (s, m) => {
      const operator = await s.user(`operator-${m.userId}@recheck.test`);
      await s.identity.database.db.execute(sql`update auth."user" set role = 'operator' where id = ${operator.userId}`);
      const r = await s.auth('/admin/ban-user', { userId: m.userId, banReason: 'test' }, operator.headers);
      expect(r.status).toBe(200);
    },
  },
  'sign-out': {
    change: async (s, m) => {
      expect((await s.auth('/sign-out', {}, m.headers)).status).toBe(200);
    },
  },
  'session revoked': {
    change: async (s, m) => {
      const sessions = await s.q<{ mySessions: { id: string; current: boolean }[] }>(m.headers, '{ mySessions { id current } }');
      const id = sessions.data!.mySessions.find((x) => x.current)!.id;
      expect((await s.q(m.headers, 'mutation($id: ID!) { revokeSession(id: $id) }', { id })).data).toEqual({ revokeSession: true });
    },
  },
};

const TRANSPORTS: Record<string, (s: RealtimeStack, m: Member) => Promise<Live>> = {
  sse: async (s, m) => {
    const sub = await subscribeSse(s.as(m.headers), QUERY);
    expect(sub.status).toBe(200);
    return {
      names: () => sub.results.map(nameOf).filter((n): n is string => n !== undefined),
      lefts: () => leftOf(sub.results),
      async ended(ms = 5_000) {
        const deadline = Date.now() + ms;
        while (!sub.completed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        if (!sub.completed) throw new Error(`SSE stream still open ${ms} ms after the change: ${JSON.stringify(sub.results)}`);
        return sub.results.flatMap((r) => r.errors ?? []).map((e) => `${e.extensions?.['code']}: ${e.message}`).join('; ');
      },
      stop: () => sub.close(),
    };
  },
  ws: async (s, m) => {
    let closed: string | null = null;
    const client = s.client(m.headers, { onClose: (code, reason) => (closed = `${code}: ${reason}`) });
    const op = collect(client, QUERY);
    return {
      names: () => op.results.map(nameOf).filter((n): n is string => n !== undefined),
      lefts: () => leftOf(op.results),
      async ended(ms = 5_000) {
        const deadline = Date.now() + ms;
        while (closed === null && op.error === null && !op.completed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        if (closed === null && op.error === null && !op.completed) throw new Error(`socket still open ${ms} ms after the change`);
        const errors = op.results.flatMap((r) => r.errors ?? []).map((e) => `${e.extensions?.['code']}: ${e.message}`);
        return [closed ?? '', ...errors].join('; ');
      },
      stop: () => void client.dispose(),
    };
  },
};

describe.each(engines())('every live transport re-checks access on $name', (engine) => {
  let s: RealtimeStack;
  let owner: Headers;
  let org: string;
  let bigId: string;
  let n = 0;

  /** A member of the owner's organization: in the key account team, or an org admin. */
  const member = async (start?: 'admin'): Promise<Member> => {
    const email = `member${++n}@recheck.test`;
    const u = await s.user(email);
    const added = await s.identity.auth.api.addMember({ body: { userId: u.userId, organizationId: org, role: start ?? 'member' } });
    if (!start) {
      const granted = await s.q(owner, 'mutation($u: ID!) { setMemberAccess(input: { userId: $u, permissionSets: [], groups: ["key_account_team"] }) { groups } }', { u: u.userId });
      expect(granted.errors).toBeUndefined();
    }
    const signedIn = await s.auth('/sign-in/email', { email, password: PASSWORD });
    return { userId: u.userId, memberId: added!.id, headers: { authorization: `Bearer ${signedIn.headers.get('set-auth-token')}` } };
  };
  const rename = async (name: string) => {
    const r = await s.q(owner, 'mutation($id: ID!, $n: String!) { updateAccount(id: $id, input: { name: $n }) { id } }', { id: bigId, n: name });
    expect(r.errors).toBeUndefined();
  };

  beforeAll(async () => {
    s = await startRealtimeStack(engine);
    const o = await s.user('owner@recheck.test', 'Recheckco');
    owner = o.headers;
    org = (await s.q<{ activeOrganization: { id: string } }>(owner, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    const made = await s.q<{ createAccount: { id: string } }>(owner, 'mutation { createAccount(input: { name: "Big", employees: 5000 }) { id } }');
    bigId = made.data!.createAccount.id;
  });
  afterAll(() => s?.close());

  const rows = Object.keys(TRANSPORTS).flatMap((t) => Object.keys(CHANGES).map((c) => [t, c] as const));
  it.each(rows)('%s: %s ends delivery; nothing written after it arrives', async (transport, change) => {
    const m = await member(CHANGES[change]!.start);
    // Before: the member reads Big (through the group) and its live changes arrive.
    expect((await s.q<{ account: { name: string } | null }>(m.headers, 'query($id: ID!) { account(id: $id) { name } }', { id: bigId })).data?.account).not.toBeNull();
    const hubBefore = s.data.hub.size();
    const live = await TRANSPORTS[transport]!(s, m);
    try {
      await eventually(() => s.data.hub.size(), hubBefore + 1);
      const before = `${transport} ${change} before`;
      await rename(before);
      await eventually(() => live.names().includes(before), true);

      await CHANGES[change]!.change(s, m, owner);
      // What queries say now: Big is gone for the member (or the member is signed out).
      const now = await s.q<{ account: unknown }>(m.headers, 'query($id: ID!) { account(id: $id) { name } }', { id: bigId });
      expect(now.data?.account ?? null).toBeNull();
      const after = `${transport} ${change} after`;
      await rename(after);
      const told = await live.ended();
      expect(told).toMatch(/4403|FORBIDDEN|UNAUTHENTICATED/);
      // Losing the record by a change of access (not of credentials) is told: its id, no values. The
      // socket stays (the operation ends); credentials that no longer hold close it.
      if (CHANGES[change]!.leaves) {
        expect(live.lefts()).toEqual({ ids: [bigId], values: false });
        expect(told).not.toMatch(/4403/);
      } else expect(live.lefts().ids).toEqual([]);
      // Give a late delivery every chance to show up: none may.
      await new Promise((r) => setTimeout(r, 300));
      expect(live.names()).toEqual([before]);
      // And the subscription is gone down to the data subgraph.
      await eventually(() => s.data.hub.size(), hubBefore);
    } finally {
      live.stop();
    }
  });

  it('an access event that leaves the principal as it was keeps the stream (re-checked, not ended)', async () => {
    const m = await member();
    const live = await TRANSPORTS.sse!(s, m);
    try {
      await eventually(() => s.data.hub.size() > 0, true);
      // Setting the same groups again emits no grant; an event naming the member anyway (say, from a
      // replica that changed something unrelated) is re-checked and the stream kept.
      await s.bus.publish(auditEvent({ eventType: 'authz.permission_granted', actor: { type: 'system', id: null, ipAddress: null }, description: 'unrelated', tenantId: org, details: { userId: m.userId } }));
      await rename('kept after a re-check');
      await eventually(() => live.names().includes('kept after a re-check'), true);
    } finally {
      live.stop();
    }
  });

  it('leaves nothing watched once streams end', async () => {
    await eventually(() => s.gateway.access.size(), 0);
  });
});
