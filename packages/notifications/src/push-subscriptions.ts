import { NotificationInputError } from './errors.ts';
import type { PushSubscriptionData } from './push.ts';
import type { SqlClient } from './store.ts';

/** A stored Web Push subscription. */
export interface StoredPushSubscription extends PushSubscriptionData {
  id: string;
  userId: string;
  tenant: string | null;
}

interface Row {
  id: string;
  user_id: string;
  tenant: string;
  endpoint: string;
  p256dh: string;
  auth: string;
}

const toSubscription = (r: Row): StoredPushSubscription => ({
  id: r.id,
  userId: r.user_id,
  tenant: r.tenant === '' ? null : r.tenant,
  endpoint: r.endpoint,
  keys: { p256dh: r.p256dh, auth: r.auth },
});

/**
 * Stores a browser's subscription; the endpoint is unique, so subscribing again (or from another
 * account on the same browser) moves it to this user and refreshes its keys.
 */
export async function savePushSubscription(client: SqlClient, s: { userId: string; tenant?: string | null; subscription: PushSubscriptionData }): Promise<StoredPushSubscription> {
  const { endpoint, keys } = s.subscription;
  if (!s.userId || !endpoint || !keys?.p256dh || !keys.auth) throw new NotificationInputError('INVALID_INPUT', 'a push subscription needs a user, an endpoint and keys.p256dh/keys.auth');
  const rows = await client.run<Row>(
    `insert into notifications.push_subscriptions (user_id, tenant, endpoint, p256dh, auth)
     values ($1, $2, $3, $4, $5)
     on conflict (endpoint) do update set user_id = excluded.user_id, tenant = excluded.tenant, p256dh = excluded.p256dh, auth = excluded.auth
     returning id, user_id, tenant, endpoint, p256dh, auth`,
    [s.userId, s.tenant ?? '', endpoint, keys.p256dh, keys.auth],
  );
  return toSubscription(rows[0]!);
}

/** A user's subscriptions in a tenant (null: none), oldest first. */
export async function listPushSubscriptions(client: SqlClient, q: { userId: string; tenant?: string | null }): Promise<StoredPushSubscription[]> {
  const rows = await client.run<Row>(
    `select id, user_id, tenant, endpoint, p256dh, auth from notifications.push_subscriptions
     where user_id = $1 and tenant = $2 order by created_at, id`,
    [q.userId, q.tenant ?? ''],
  );
  return rows.map(toSubscription);
}

/** Deletes the subscription at `endpoint` (after `SUBSCRIPTION_GONE`); true when one was deleted. */
export async function deletePushSubscription(client: SqlClient, endpoint: string): Promise<boolean> {
  const rows = await client.run<{ id: string }>('delete from notifications.push_subscriptions where endpoint = $1 returning id', [endpoint]);
  return rows.length > 0;
}
