import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll } from 'vitest';
import { createAuditSubgraph, type AuditSubgraph } from '@objectos/audit-subgraph';
import { connectDatabase, queryRows, type Database, type Db } from '@objectos/db';
import { auditEvent, createMemoryEventBus, type ChangeFeed } from '@objectos/events';
import { parseMetadata } from '@objectos/metadata';
import type { Principal } from '@objectos/principal';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { TEST_SECRET, type Engine, type EngineHandle, type FetchHandler } from '@objectos/testkit';
import { createGateway, type Gateway } from '../../src/index.ts';
import { HISTORY_WRITER, metadataOf, type HistoryMetadata } from './metadata-of.ts';
import { OBJECTS, type Share, type User, type World } from './world.ts';
// A share and its access event are written as the data subgraph's share API writes them.
import { recordAccessChange, type StoredShare } from '../../../subgraphs/data/src/events/access-change.ts';
import type { DataSource } from '../../../subgraphs/data/src/data-source.ts';

/**
 * One randomized world (world.ts) made real: its metadata compiled into a data subgraph, its members,
 * records and manual shares written to the database (in two fresh organizations), and a gateway whose
 * `Bearer user-<i>` requests act as the world's user i. Shared by the randomized security suites.
 */
export interface WorldStack {
  /** The two organizations of the world (fresh per world). */
  org: { A: string; B: string };
  /** A world record id → its id in the database (fresh per world). */
  rid(id: string): string;
  /** Records created after setup keep their database id as their world id. */
  bind(worldId: string, graphId: string): void;
  /** The principal the gateway builds for a world user. */
  principal(u: User): Principal;
  data: DataSubgraph;
  /** With the `audit` option: the audit subgraph (field history), composed into the gateway. */
  audit: AuditSubgraph | null;
  /** With the `audit` option: a member of organization A or B who can edit every record (see HISTORY_WRITER). */
  writer(org: 'A' | 'B'): Principal;
  /** Every committed change published and, with the `audit` option, stored in the audit trail. */
  settle(): Promise<void>;
  gateway: Gateway;
  /** Requests through the gateway as the world's user i. */
  as(userIx: number): FetchHandler;
  /**
   * Gives world user i a new role and groups, as identity's setMemberAccess does: the member_access row,
   * the world (the gateway resolves principals from it), and an authz event on the gateway's bus.
   */
  changeAccess(userIx: number, next: Pick<User, 'role' | 'groups'>): Promise<void>;
  dispose(): Promise<void>;
}

export interface WorldStackOptions {
  /** The data subgraph's change feed (not closed by dispose). */
  changeFeed?: ChangeFeed;
  /**
   * Field history: every object tracks history (`true`: all fields; or the fields to mark), and an
   * audit subgraph on the setup connection is composed into the gateway. @default off
   */
  audit?: true | HistoryMetadata;
}

const uid = (id: string) => id; // user ids are per organization (member_access is keyed by both)

/** Writes (or re-levels) a manual share of the world into organization A (shares only name records of A). */
export async function insertShare(db: Db, org: string, rid: (id: string) => string, s: Share): Promise<void> {
  const value = s.to.type === 'user' ? uid(s.to.value) : s.to.value;
  await queryRows(db, sql`insert into security.record_share (organization_id, object, record_id, shared_with_type, shared_with, access_level)
    values (${org}, ${s.object}, ${rid(s.record)}, ${s.to.type}, ${value}, ${s.level})
    on conflict (organization_id, object, record_id, shared_with_type, shared_with) do update set access_level = excluded.access_level`);
}

/**
 * Grants a manual share as shareRecord does: with, in its transaction, the access event its live
 * subscribers are told of (ENTERED). The share's id, and whether an event was written (not when the level
 * is unchanged or the record is gone).
 */
export async function grantShare(ds: DataSource, org: string, rid: (id: string) => string, s: Share): Promise<{ id: string; told: boolean }> {
  const value = s.to.type === 'user' ? uid(s.to.value) : s.to.value;
  return ds.db.transaction(async (tx) => {
    const [before] = await queryRows<{ access_level: 'read' | 'edit' }>(tx, sql`select access_level from security.record_share where organization_id = ${org}
      and object = ${s.object} and record_id = ${rid(s.record)} and shared_with_type = ${s.to.type} and shared_with = ${value} for update`);
    const [row] = await queryRows<StoredShare>(tx, sql`insert into security.record_share (organization_id, object, record_id, shared_with_type, shared_with, access_level)
      values (${org}, ${s.object}, ${rid(s.record)}, ${s.to.type}, ${value}, ${s.level})
      on conflict (organization_id, object, record_id, shared_with_type, shared_with) do update set access_level = excluded.access_level returning *`);
    return { id: row!.id, told: await recordAccessChange(tx, { ...ds, tenant: org, actor: null }, ds.plan.objects[s.object]!, row!, true, before?.access_level ?? null) };
  });
}

/** Revokes a manual share as unshareRecord does, with its access event (LEFT); whether one was written. */
export async function revokeShare(ds: DataSource, org: string, rid: (id: string) => string, s: Omit<Share, 'level'>): Promise<boolean> {
  const value = s.to.type === 'user' ? uid(s.to.value) : s.to.value;
  return ds.db.transaction(async (tx) => {
    const [row] = await queryRows<StoredShare>(tx, sql`delete from security.record_share where organization_id = ${org} and object = ${s.object}
      and record_id = ${rid(s.record)} and shared_with_type = ${s.to.type} and shared_with = ${value} returning *`);
    return row ? recordAccessChange(tx, { ...ds, tenant: org, actor: null }, ds.plan.objects[s.object]!, row, false, null) : false;
  });
}

export async function startWorldStack(db: Database, w: World, n: number, options: WorldStackOptions = {}): Promise<WorldStack> {
  const org = { A: `org-${n}-A-${randomUUID()}`, B: `org-${n}-B-${randomUUID()}` };
  const history = options.audit === true ? {} : options.audit;
  const model = parseMetadata(metadataOf(w, history));
  const data = await createDataSubgraph({
    metadata: model, database: db, secret: TEST_SECRET,
    ...(options.changeFeed ? { changeFeed: options.changeFeed } : {}),
  });
  // Records and ids are fresh per world: namespace them.
  const idMap = new Map<string, string>();
  const rid = (id: string) => {
    let v = idMap.get(id);
    if (!v) idMap.set(id, (v = randomUUID()));
    return v;
  };
  let gateway: Gateway | null = null;
  let audit: AuditSubgraph | null = null;
  try {
    for (const u of w.users) {
      await queryRows(db.db, sql`insert into security.member_access (organization_id, user_id, role, permission_sets, groups)
        values (${org[u.org]}, ${uid(u.id)}, ${u.role}, ${sql.param(u.sets)}::text[], ${sql.param(u.groups)}::text[])`);
    }
    for (const o of OBJECTS) {
      for (const r of w.records[o]) {
        const cols = o === 'parent'
          ? sql`(id, name, amount, secret, status, organization_id, owner_id) values (${rid(r.id)}, ${r.name}, ${r.amount}, ${r.secret}, ${r.status}`
          : o === 'child'
            ? sql`(id, name, amount, note, parent_id, organization_id, owner_id) values (${rid(r.id)}, ${r.name}, ${r.amount}, ${r.note}, ${r.parent ? rid(r.parent) : null}`
            : sql`(id, name, amount, parent_id, organization_id, owner_id) values (${rid(r.id)}, ${r.name}, ${r.amount}, ${rid(r.parent!)}`;
        await queryRows(db.db, sql`insert into ${sql.identifier(o)} ${cols}, ${org[r.org]}, ${uid(r.owner)})`);
      }
    }
    for (const s of w.shares) await insertShare(db.db, org.A, rid, s);
    const principal = (u: User): Principal => ({
      kind: 'user', userId: uid(u.id), organizationId: org[u.org], roles: ['member'], permissionSets: u.sets, role: u.role, groups: u.groups,
      isAdmin: false, sessionId: null, apiKeyId: null, impersonatedBy: null,
    });
    const bus = createMemoryEventBus();
    const au = (audit = history ? await createAuditSubgraph({ database: db, secret: TEST_SECRET, metadata: model, bus }) : null);
    const gw = (gateway = await createGateway({
      subgraphs: [
        { name: 'data', url: 'http://data.test/graphql', sdl: data.sdl, fetch: data.fetch },
        ...(au ? [{ name: 'audit', url: 'http://audit.test/graphql', sdl: au.sdl, fetch: au.fetch }] : []),
      ],
      auth: { secret: TEST_SECRET, bus, resolve: async (c) => ({ principal: principal(w.users[Number(String((c as Record<string, string>)['authorization']).slice(12))]!) }) },
    }));
    return {
      org,
      rid,
      bind: (worldId, graphId) => void idMap.set(worldId, graphId),
      principal,
      data,
      audit: au,
      writer(o) {
        if (!au) throw new Error('writer: start the world stack with the audit option');
        return {
          kind: 'user', userId: HISTORY_WRITER, organizationId: org[o], roles: ['member'], permissionSets: [HISTORY_WRITER], role: HISTORY_WRITER, groups: [],
          isAdmin: false, sessionId: null, apiKeyId: null, impersonatedBy: null,
        };
      },
      async settle() {
        await data.relay.drain();
        await au?.capture.drain();
      },
      gateway: gw,
      as: (userIx) => (req) => {
        const h = new Headers(req.headers);
        h.set('authorization', `Bearer user-${userIx}`);
        return gw.fetch(new Request(req, { headers: h }));
      },
      async changeAccess(userIx, next) {
        const u = { ...w.users[userIx]!, ...next };
        await queryRows(db.db, sql`update security.member_access set role = ${u.role}, groups = ${sql.param(u.groups)}::text[]
          where organization_id = ${org[u.org]} and user_id = ${uid(u.id)}`);
        // A new object: subscribers opened before keep the user as they were (their signed principal).
        w.users[userIx] = u;
        await bus.publish(auditEvent({
          eventType: 'authz.role_assigned', actor: { type: 'system', id: null, ipAddress: null }, description: 'member access changed',
          tenantId: org[u.org], details: { userId: uid(u.id), role: u.role, groups: u.groups },
        }));
      },
      async dispose() {
        await gw.dispose();
        await au?.dispose();
        await data.dispose();
      },
    };
  } catch (e) {
    await gateway?.dispose();
    await audit?.dispose();
    await data.dispose();
    throw e;
  }
}

/** One fresh database of `engine` for a randomized suite: opened before it, closed and dropped after. */
export function suiteDatabase(engine: Engine): () => Database {
  let handle: EngineHandle | undefined;
  let db: Database | undefined;
  beforeAll(async () => {
    handle = await engine.open();
    db = await connectDatabase(handle.options);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await handle?.cleanup();
  });
  return () => db!;
}
