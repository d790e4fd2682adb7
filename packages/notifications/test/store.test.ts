import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@objectos/db';
import { engines, type EngineHandle } from '@objectos/testkit';
import {
  addInbox, deletePushSubscription, ensureNotificationTables, getPreferences, isAllowed, listInbox, listPushSubscriptions, markRead,
  NotificationInputError, savePushSubscription, setPreference,
} from '../src/index.ts';

describe.each(engines())('the notifications store on $name', (engine) => {
  let handle: EngineHandle;
  let database: Database;
  beforeAll(async () => {
    handle = await engine.open();
    database = await connectDatabase(handle.options);
    await ensureNotificationTables(database);
    // Twice, and concurrently: creating the tables is idempotent.
    await Promise.all([ensureNotificationTables(database), ensureNotificationTables(database)]);
  });
  afterAll(async () => {
    await database?.close();
    await handle?.cleanup();
  });

  const note = (key: string, extra: { userId?: string; tenant?: string | null } = {}) =>
    addInbox(database, { tenant: 'acme', userId: 'u1', topic: 'task.assigned', title: `T ${key}`, body: 'b', data: { task: key }, key, ...extra });

  it('adds an inbox item once per idempotency key', async () => {
    const first = await note('inbox-once');
    expect(first).toMatchObject({ tenant: 'acme', userId: 'u1', topic: 'task.assigned', title: 'T inbox-once', data: { task: 'inbox-once' }, readAt: null });
    expect(first!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(first!.createdAt).toBeInstanceOf(Date);
    expect(await note('inbox-once')).toBeNull();
    const rows = await database.run<{ n: number }>("select count(*)::int as n from notifications.inbox where idempotency_key = 'inbox-once'", []);
    expect(rows[0]!.n).toBe(1);
  });

  it('pages a user\'s inbox newest first with keyset cursors, only in their tenant', async () => {
    const keys = Array.from({ length: 7 }, (_, i) => `page-${i}`);
    for (const k of keys) await note(k, { userId: 'pager' });
    await note('page-other-tenant', { userId: 'pager', tenant: 'globex' });
    await note('page-no-tenant', { userId: 'pager', tenant: null });
    await note('page-other-user', { userId: 'someone' });
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page = await listInbox(database, { userId: 'pager', tenant: 'acme', first: 3, after });
      seen.push(...page.items.map((i) => i.data as { task: string }).map((d) => d.task));
      pages++;
      if (!page.hasNextPage) break;
      after = page.endCursor;
    }
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual([...keys].sort());
    const all = await listInbox(database, { userId: 'pager', tenant: 'acme', first: 100 });
    const times = all.items.map((i) => i.createdAt.getTime());
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect((await listInbox(database, { userId: 'pager', tenant: null, first: 10 })).items.map((i) => i.title)).toEqual(['T page-no-tenant']);
  });

  it('marks only the owner\'s notification read, once, and lists unread only on request', async () => {
    const mine = (await note('read-mine', { userId: 'reader' }))!;
    const other = await note('read-other', { userId: 'reader' });
    expect(await markRead(database, { userId: 'intruder', tenant: 'acme', id: mine.id })).toBe(false);
    expect(await markRead(database, { userId: 'reader', tenant: 'globex', id: mine.id })).toBe(false);
    expect(await markRead(database, { userId: 'reader', tenant: 'acme', id: mine.id })).toBe(true);
    expect(await markRead(database, { userId: 'reader', tenant: 'acme', id: mine.id })).toBe(false);
    const unread = await listInbox(database, { userId: 'reader', tenant: 'acme', first: 10, unreadOnly: true });
    expect(unread.items.map((i) => i.id)).toEqual([other!.id]);
    const all = await listInbox(database, { userId: 'reader', tenant: 'acme', first: 10 });
    expect(all.items.find((i) => i.id === mine.id)!.readAt).toBeInstanceOf(Date);
  });

  it('refuses bad page sizes, cursors and ids clearly', async () => {
    await expect(listInbox(database, { userId: 'u1', first: 0 })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: 'first must be an integer from 1 to 100, got 0' });
    await expect(listInbox(database, { userId: 'u1', first: 5, after: 'garbage' })).rejects.toBeInstanceOf(NotificationInputError);
    await expect(markRead(database, { userId: 'u1', id: "x' or 1=1" })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(addInbox(database, { userId: 'u1', topic: 't', title: 't', body: 'b', key: '' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('lets the most specific preference decide, per channel and tenant, and never blocks security topics', async () => {
    const q = { userId: 'pref', tenant: 'acme', channel: 'email' as const, security: false };
    expect(await isAllowed(database, { ...q, topic: 'billing.invoice' })).toBe(true); // nothing stored: allowed
    await setPreference(database, { userId: 'pref', tenant: 'acme', channel: 'email', topic: '*', enabled: false });
    expect(await isAllowed(database, { ...q, topic: 'billing.invoice' })).toBe(false);
    await setPreference(database, { userId: 'pref', tenant: 'acme', channel: 'email', topic: 'billing.*', enabled: true });
    await setPreference(database, { userId: 'pref', tenant: 'acme', channel: 'email', topic: 'billing.reminder', enabled: false });
    expect(await isAllowed(database, { ...q, topic: 'billing.invoice' })).toBe(true);
    expect(await isAllowed(database, { ...q, topic: 'billing.reminder' })).toBe(false);
    expect(await isAllowed(database, { ...q, topic: 'task.assigned' })).toBe(false);
    expect(await isAllowed(database, { ...q, channel: 'sms', topic: 'task.assigned' })).toBe(true);
    expect(await isAllowed(database, { ...q, tenant: 'globex', topic: 'task.assigned' })).toBe(true);
    expect(await isAllowed(database, { ...q, topic: 'security.password_reset', security: true })).toBe(true);
    // Replacing a preference keeps one row.
    await setPreference(database, { userId: 'pref', tenant: 'acme', channel: 'email', topic: '*', enabled: true });
    expect(await isAllowed(database, { ...q, topic: 'task.assigned' })).toBe(true);
    expect(await getPreferences(database, { userId: 'pref', tenant: 'acme' })).toEqual([
      { channel: 'email', topic: '*', enabled: true },
      { channel: 'email', topic: 'billing.*', enabled: true },
      { channel: 'email', topic: 'billing.reminder', enabled: false },
    ]);
    await expect(setPreference(database, { userId: 'pref', channel: 'fax' as 'email', topic: '*', enabled: true })).rejects.toMatchObject({ message: 'unknown channel "fax" (email, in_app, push, sms, webhook)' });
    await expect(setPreference(database, { userId: 'pref', channel: 'email', topic: 'Bad Topic', enabled: true })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('stores push subscriptions one per endpoint and deletes a gone one', async () => {
    const sub = { endpoint: 'https://push.example.com/s/1', keys: { p256dh: 'p1', auth: 'a1' } };
    const saved = await savePushSubscription(database, { userId: 'pusher', tenant: 'acme', subscription: sub });
    expect(saved).toMatchObject({ userId: 'pusher', tenant: 'acme', endpoint: sub.endpoint, keys: { p256dh: 'p1', auth: 'a1' } });
    await savePushSubscription(database, { userId: 'pusher', tenant: 'acme', subscription: { ...sub, keys: { p256dh: 'p2', auth: 'a2' } } });
    const list = await listPushSubscriptions(database, { userId: 'pusher', tenant: 'acme' });
    expect(list.map((s) => s.keys)).toEqual([{ p256dh: 'p2', auth: 'a2' }]);
    expect(await deletePushSubscription(database, sub.endpoint)).toBe(true);
    expect(await deletePushSubscription(database, sub.endpoint)).toBe(false);
    expect(await listPushSubscriptions(database, { userId: 'pusher', tenant: 'acme' })).toEqual([]);
  });
});
