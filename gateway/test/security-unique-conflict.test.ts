import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '@objectos/testkit';
import { PASSWORD, startSecureStack, type SecureStack } from './secure-stack.ts';

// Security regression (smaller leaks): a CONFLICT on a unique field says only that the value is taken.
// It never names the record that holds it, nor any of its values, and reads the same whether that
// record is one the caller can see or one hidden from them. (That a value is taken at all is the one
// thing uniqueness must reveal: README "Security model" says so.)

type Result = { data?: Record<string, { id: string }> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };

describe.each(engines())('unique conflicts reveal nothing of the conflicting record on $name', (engine) => {
  let s: SecureStack;
  let owner: Record<string, string>;
  let member: Record<string, string>;
  let hidden: { account: string; contact: string };
  let mine: { account: string; contact: string };

  const contact = (who: Record<string, string>, account: string, email: string) =>
    s.q(who, 'mutation($a: ID!, $e: String!) { createContact(input: { lastName: "Dup", accountId: $a, email: $e }) { id } }', { a: account, e: email }) as Promise<Result>;
  /** The answer without what differs per request. */
  const bare = (r: Result) => JSON.parse(JSON.stringify(r, (k, v: unknown) => (k === 'requestId' ? undefined : v))) as Result;

  beforeAll(async () => {
    s = await startSecureStack(engine);
    const o = await s.user('owner@conflict.test', 'Conflictco');
    owner = o.headers;
    const org = (await s.q<{ activeOrganization: { id: string } }>(owner, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    const m = await s.user('member@conflict.test');
    await s.identity.auth.api.addMember({ body: { userId: m.userId, organizationId: org, role: 'member' } });
    member = { authorization: `Bearer ${(await s.auth('/sign-in/email', { email: 'member@conflict.test', password: PASSWORD })).headers.get('set-auth-token')}` };
    const account = async (who: Record<string, string>, name: string) => (await s.q<{ createAccount: { id: string } }>(who, 'mutation($n: String!) { createAccount(input: { name: $n }) { id } }', { n: name })).data!.createAccount.id;
    const secret = await account(owner, 'Owner private');
    const own = await account(member, 'Member own');
    hidden = { account: secret, contact: (await contact(owner, secret, 'hidden@conflict.test')).data!['createContact']!.id };
    mine = { account: own, contact: (await contact(member, own, 'mine@conflict.test')).data!['createContact']!.id };
    // The member cannot see the owner's account or its contact (private OWD, controlled_by_parent).
    const seen = await s.q<{ contact: unknown; account: unknown }>(member, 'query($c: ID!, $a: ID!) { contact(id: $c) { id } account(id: $a) { id } }', { c: hidden.contact, a: hidden.account });
    expect(seen.data).toEqual({ contact: null, account: null });
  });
  afterAll(() => s?.close());

  it('the conflict with a hidden record reads exactly like one with a visible record, and names neither', async () => {
    const withHidden = await contact(member, mine.account, 'hidden@conflict.test');
    const withMine = await contact(member, mine.account, 'mine@conflict.test');
    expect(withHidden.errors?.[0]?.extensions?.['code']).toBe('CONFLICT');
    expect(bare(withHidden)).toEqual(bare(withMine));
    const text = JSON.stringify(withHidden);
    for (const revealing of [hidden.contact, hidden.account, 'Owner private', 'hidden@conflict.test', 'Key (', 'already exists', 'contact_email', 'duplicate key'])
      expect(text, revealing).not.toContain(revealing);
  });

  it('the same holds for an update to a taken value, and nothing is written', async () => {
    const r = (await s.q(member, 'mutation($id: ID!) { updateContact(id: $id, input: { email: "hidden@conflict.test" }) { id } }', { id: mine.contact })) as Result;
    expect(r.errors?.[0]?.extensions?.['code']).toBe('CONFLICT');
    const text = JSON.stringify(r);
    for (const revealing of [hidden.contact, hidden.account, 'hidden@conflict.test', 'Key (']) expect(text, revealing).not.toContain(revealing);
    const still = await s.q<{ contact: { email: string } }>(member, 'query($id: ID!) { contact(id: $id) { email } }', { id: mine.contact });
    expect(still.data!.contact.email).toBe('mine@conflict.test');
  });
});
