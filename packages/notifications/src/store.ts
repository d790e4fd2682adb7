import type { Database } from '@objectos/db';
import { CHANNELS } from './errors.ts';

/**
 * What the store needs of a connection: a `Database` from `connectDatabase` (statements go
 * through its `run`, as text and parameters).
 */
export type SqlClient = Pick<Database, 'run'>;

const NOTIFICATIONS_LOCK = 7_734_027;

/**
 * The `notifications` schema, created idempotently in one statement (a DO block holding an
 * advisory lock, so processes starting together do not race):
 * - `inbox`: in-app notifications; `idempotency_key` is unique, so a retried job adds nothing.
 * - `preferences`: per user, tenant (`''` for none), channel and topic (`*` for all topics).
 * - `push_subscriptions`: browsers' Web Push subscriptions, one row per endpoint.
 */
export async function ensureNotificationTables(client: SqlClient): Promise<void> {
  const channels = CHANNELS.map((c) => `'${c}'`).join(', ');
  await client.run(
    `do $notifications$ begin
      perform pg_advisory_xact_lock(${NOTIFICATIONS_LOCK});
      create schema if not exists notifications;
      create table if not exists notifications.inbox (
        id uuid primary key default gen_random_uuid(),
        tenant text,
        user_id text not null,
        topic text not null,
        title text not null,
        body text not null,
        data jsonb,
        idempotency_key text not null unique,
        created_at timestamptz not null default now(),
        read_at timestamptz);
      create index if not exists inbox_user_created on notifications.inbox (user_id, created_at desc, id desc);
      create table if not exists notifications.preferences (
        user_id text not null,
        tenant text not null default '',
        channel text not null check (channel in (${channels})),
        topic text not null,
        enabled boolean not null,
        primary key (user_id, tenant, channel, topic));
      create table if not exists notifications.push_subscriptions (
        id uuid primary key default gen_random_uuid(),
        user_id text not null,
        tenant text not null default '',
        endpoint text not null unique,
        p256dh text not null,
        auth text not null,
        created_at timestamptz not null default now());
      create index if not exists push_subscriptions_user on notifications.push_subscriptions (user_id, tenant);
    end $notifications$`,
    [],
  );
}
