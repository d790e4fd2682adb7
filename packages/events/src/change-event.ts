import { createChannel, type Channel } from './channel.ts';

export type ChangeOperation = 'create' | 'update' | 'delete';

/**
 * Who may read a record changed, the record did not: a manual share was granted (or its level changed)
 * or revoked. Not a data change (no audit data event, no automation): its subscribers are told that the
 * record entered or left their view. The share row as it is after a grant, as it was before a revoke.
 */
export interface AccessChange {
  granted: boolean;
  share: { id: string; organizationId: string; object: string; recordId: string; sharedWithType: string; sharedWith: string; accessLevel: 'read' | 'edit' };
  /** A grant that changed an existing share's level: the level before. */
  previousLevel: 'read' | 'edit' | null;
}

/**
 * A committed change to one record, as written to the outbox in the same transaction as the change.
 * Rows carry every stored value (GraphQL names, plus the tenant and owner): subscribers' field
 * permissions are applied when an event is delivered, never here.
 */
export interface ChangeEvent {
  /** The outbox row id: unique, increasing per database. */
  id: string;
  organizationId: string;
  object: string;
  recordId: string;
  /** `access`: see AccessChange (record and previous are the record as it is). */
  op: ChangeOperation | 'access';
  /** After the change (null for delete). */
  record: Record<string, unknown> | null;
  /** Before the change (null for create). */
  previous: Record<string, unknown> | null;
  /** GraphQL names of the fields whose value changed. */
  changedFields: string[];
  actorId: string | null;
  /** Commit time, ISO 8601. */
  at: string;
  /**
   * For a record deleted by a cascade: its ancestors deleted in the same transaction, nearest first.
   * Access that follows a parent (controlled_by_parent) is decided at delivery against these states.
   */
  deletedWith?: { object: string; record: Record<string, unknown> }[];
  /** With op `access`: the share granted or revoked. */
  access?: AccessChange;
}

/** A change to a record's data (what the audit trail and automation see; access changes are not). */
export type DataChangeEvent = ChangeEvent & { op: ChangeOperation };

export type ChangeFeed = Channel<ChangeEvent>;

/** Committed record changes: in process when embedded, Redis pub/sub between data subgraph replicas. */
export const createChangeFeed = (redisUrl?: string, channel = 'objectos:changes'): ChangeFeed => createChannel<ChangeEvent>(channel, redisUrl);
