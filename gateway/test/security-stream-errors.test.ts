import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, subscribeSse } from '@objectos/testkit';
import { PASSWORD, startSecureStack, type SecureStack } from './secure-stack.ts';

// Security regression class "production errors", streamed: an unexpected failure inside a live
// subscription (here the delivery check's SQL, made to fail) reaches the subscriber as the masked
// "Unexpected error." with a code and a request id, never the database's words, over SSE (and so
// over WebSocket, whose operations are SSE streams inside the gateway).

describe.each(engines())('errors inside a live stream are masked on $name', (engine) => {
  let s: SecureStack;
  let member: Record<string, string>;
  let owner: Record<string, string>;

  beforeAll(async () => {
    s = await startSecureStack(engine);
    owner = (await s.user('owner@stream-errors.test', 'Streamco')).headers;
    const org = (await s.q<{ activeOrganization: { id: string } }>(owner, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    const m = await s.user('member@stream-errors.test');
    await s.identity.auth.api.addMember({ body: { userId: m.userId, organizationId: org, role: 'member' } });
    member = { authorization: `Bearer ${(await s.auth('/sign-in/email', { email: 'member@stream-errors.test', password: PASSWORD })).headers.get('set-auth-token')}` };
  });
  afterAll(() => s?.close());

  it('a failing delivery check ends the stream with "Unexpected error." (INTERNAL_SERVER_ERROR, requestId), no SQL', async () => {
    const before = s.data.hub.size();
    const live = await subscribeSse(s.as(member), 'subscription { accountChanged { op record { name } } }');
    const deadline = Date.now() + 10_000;
    while (s.data.hub.size() <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // The member's record access reads manual shares: without their table, the check's SQL fails.
    await s.data.database.db.execute(sql`alter table security.record_share rename to record_share_away`);
    try {
      const made = await s.q(member, 'mutation { createAccount(input: { name: "Mine" }) { id } }');
      expect(made.errors).toBeUndefined();
      await live.until(1);
      const text = JSON.stringify(live.results);
      const errors = live.results.flatMap((r) => r.errors ?? []);
      expect(errors.length, text).toBeGreaterThan(0);
      for (const e of errors) {
        expect(e.message).toBe('Unexpected error.');
        expect(e.extensions?.['code']).toBe('INTERNAL_SERVER_ERROR');
        expect(e.extensions?.['requestId']).toEqual(expect.any(String));
      }
      expect(text).not.toMatch(/record_share|relation|does not exist|select |sql/i);
    } finally {
      live.close();
      await s.data.database.db.execute(sql`alter table security.record_share_away rename to record_share`);
    }
  });
});
