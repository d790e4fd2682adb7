import { CHANNELS, NotificationInputError, type Channel } from './errors.ts';
import type { SqlClient } from './store.ts';

/** One stored preference: whether `channel` may carry `topic` (`*`: every topic, `billing.*`: a family). */
export interface Preference {
  channel: Channel;
  topic: string;
  enabled: boolean;
}

const SEGMENT = '[a-z][a-z0-9]*(?:_[a-z0-9]+)*';
const TOPIC = new RegExp(`^${SEGMENT}(?:\\.${SEGMENT})*$`);
const PATTERN = new RegExp(`^(?:\\*|${SEGMENT}(?:\\.${SEGMENT})*(?:\\.\\*)?)$`);

function requireChannel(channel: string): Channel {
  if (!(CHANNELS as readonly string[]).includes(channel))
    throw new NotificationInputError('INVALID_INPUT', `unknown channel "${channel}" (${CHANNELS.join(', ')})`);
  return channel as Channel;
}

function requireUser(userId: string): void {
  if (typeof userId !== 'string' || userId.length === 0) throw new NotificationInputError('INVALID_INPUT', 'a user id is required');
}

/** Topics a preference may name for `topic`, most specific first: `a.b.c`, `a.b.*`, `a.*`, `*`. */
export function topicPatterns(topic: string): string[] {
  const parts = topic.split('.');
  const out = [topic];
  for (let i = parts.length - 1; i > 0; i--) out.push(`${parts.slice(0, i).join('.')}.*`);
  out.push('*');
  return out;
}

/** Stores (or replaces) one preference of a user in a tenant (null: none). */
export async function setPreference(
  client: SqlClient,
  p: { userId: string; tenant?: string | null; channel: Channel; topic: string; enabled: boolean },
): Promise<void> {
  requireUser(p.userId);
  const channel = requireChannel(p.channel);
  if (!PATTERN.test(p.topic)) throw new NotificationInputError('INVALID_INPUT', `"${p.topic}" is not a topic, a family (billing.*) or *`);
  await client.run(
    `insert into notifications.preferences (user_id, tenant, channel, topic, enabled)
     values ($1, $2, $3, $4, $5)
     on conflict (user_id, tenant, channel, topic) do update set enabled = excluded.enabled`,
    [p.userId, p.tenant ?? '', channel, p.topic, p.enabled],
  );
}

/** A user's stored preferences in a tenant, sorted by channel and topic. */
export async function getPreferences(client: SqlClient, q: { userId: string; tenant?: string | null }): Promise<Preference[]> {
  requireUser(q.userId);
  return client.run<Preference>(
    `select channel, topic, enabled from notifications.preferences
     where user_id = $1 and tenant = $2
     order by channel, topic collate "C"`,
    [q.userId, q.tenant ?? ''],
  );
}

/**
 * Whether a notification may go to the user on `channel`. Security notifications always may
 * (they cannot be opted out of); otherwise the most specific stored preference decides
 * (`a.b.c` over `a.b.*` over `a.*` over `*`), and with none it may.
 */
export async function isAllowed(
  client: SqlClient,
  q: { userId: string; tenant?: string | null; channel: Channel; topic: string; security: boolean },
): Promise<boolean> {
  if (q.security) return true;
  requireUser(q.userId);
  const channel = requireChannel(q.channel);
  if (!TOPIC.test(q.topic)) throw new NotificationInputError('INVALID_INPUT', `"${q.topic}" is not a topic`);
  const patterns = topicPatterns(q.topic);
  const rows = await client.run<{ topic: string; enabled: boolean }>(
    `select topic, enabled from notifications.preferences
     where user_id = $1 and tenant = $2 and channel = $3
       and topic in (${patterns.map((_, i) => `$${i + 4}`).join(', ')})`,
    [q.userId, q.tenant ?? '', channel, ...patterns],
  );
  for (const p of patterns) {
    const hit = rows.find((r) => r.topic === p);
    if (hit) return hit.enabled;
  }
  return true;
}
