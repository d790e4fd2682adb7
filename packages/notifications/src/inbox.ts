import { NotificationInputError, requireKey } from './errors.ts';
import type { SqlClient } from './store.ts';

/** An in-app notification. */
export interface InboxItem {
  id: string;
  tenant: string | null;
  userId: string;
  topic: string;
  title: string;
  body: string;
  data: unknown;
  createdAt: Date;
  readAt: Date | null;
}

/** A page of a user's inbox, newest first. */
export interface InboxPage {
  items: InboxItem[];
  /** Pass as `after` for the next page; null on an empty page. */
  endCursor: string | null;
  hasNextPage: boolean;
}

interface InboxRow {
  id: string;
  tenant: string | null;
  user_id: string;
  topic: string;
  title: string;
  body: string;
  data: unknown;
  created_at: Date | string;
  created_key: string;
  read_at: Date | string | null;
}

const COLUMNS = 'id, tenant, user_id, topic, title, body, data, created_at, created_at::text as created_key, read_at';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const toItem = (r: InboxRow): InboxItem => ({
  id: r.id,
  tenant: r.tenant,
  userId: r.user_id,
  topic: r.topic,
  title: r.title,
  body: r.body,
  data: r.data,
  createdAt: new Date(r.created_at),
  readAt: r.read_at === null ? null : new Date(r.read_at),
});

function requireUser(userId: string): void {
  if (typeof userId !== 'string' || userId.length === 0) throw new NotificationInputError('INVALID_INPUT', 'a user id is required');
}

/**
 * Adds an in-app notification once: a repeat of `key` inserts nothing and returns null, so a
 * retried job has exactly one effect.
 */
export async function addInbox(
  client: SqlClient,
  n: { tenant?: string | null; userId: string; topic: string; title: string; body: string; data?: unknown; key: string },
): Promise<InboxItem | null> {
  requireUser(n.userId);
  const key = requireKey(n.key);
  const data = n.data === undefined ? null : JSON.stringify(n.data);
  const rows = await client.run<InboxRow>(
    `insert into notifications.inbox (tenant, user_id, topic, title, body, data, idempotency_key)
     values ($1, $2, $3, $4, $5, $6::jsonb, $7)
     on conflict (idempotency_key) do nothing
     returning ${COLUMNS}`,
    [n.tenant ?? null, n.userId, n.topic, n.title, n.body, data, key],
  );
  return rows[0] ? toItem(rows[0]) : null;
}

/** Opaque cursor: the row's exact timestamp text (microseconds kept) and id. */
const encodeCursor = (r: InboxRow): string => Buffer.from(JSON.stringify([r.created_key, r.id])).toString('base64url');

function decodeCursor(cursor: string): [string, string] {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && !Number.isNaN(Date.parse(v[0])) && typeof v[1] === 'string' && UUID.test(v[1]))
      return [v[0], v[1]];
  } catch {
    // fall through
  }
  throw new NotificationInputError('INVALID_INPUT', `"${cursor}" is not an inbox cursor`);
}

/**
 * A user's inbox in one tenant (null: none), newest first, keyset-paginated: `first` items
 * (1–100) after the `after` cursor. `unreadOnly` leaves out what was read.
 */
export async function listInbox(
  client: SqlClient,
  q: { userId: string; tenant?: string | null; unreadOnly?: boolean; first: number; after?: string | null },
): Promise<InboxPage> {
  requireUser(q.userId);
  if (!Number.isInteger(q.first) || q.first < 1 || q.first > 100) throw new NotificationInputError('INVALID_INPUT', `first must be an integer from 1 to 100, got ${q.first}`);
  const after = q.after ? decodeCursor(q.after) : null;
  const params: unknown[] = [q.userId, q.tenant ?? null, q.first + 1];
  if (after) params.push(after[0], after[1]);
  const rows = await client.run<InboxRow>(
    `select ${COLUMNS} from notifications.inbox
     where user_id = $1 and tenant is not distinct from $2::text
       ${q.unreadOnly ? 'and read_at is null' : ''}
       ${after ? 'and (created_at, id) < ($4::timestamptz, $5::uuid)' : ''}
     order by created_at desc, id desc
     limit $3`,
    params,
  );
  const page = rows.slice(0, q.first);
  const last = page[page.length - 1];
  return { items: page.map(toItem), endCursor: last ? encodeCursor(last) : null, hasNextPage: rows.length > q.first };
}

/** Marks one of the user's own notifications read; false when it is not theirs, not found or already read. */
export async function markRead(client: SqlClient, q: { userId: string; tenant?: string | null; id: string }): Promise<boolean> {
  requireUser(q.userId);
  if (!UUID.test(q.id)) throw new NotificationInputError('INVALID_INPUT', `"${q.id}" is not a notification id`);
  const rows = await client.run<{ id: string }>(
    `update notifications.inbox set read_at = now()
     where id = $1::uuid and user_id = $2 and tenant is not distinct from $3::text and read_at is null
     returning id`,
    [q.id, q.userId, q.tenant ?? null],
  );
  return rows.length > 0;
}
