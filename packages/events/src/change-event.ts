import { createChannel, type Channel } from './channel.ts';

export type ChangeOperation = 'create' | 'update' | 'delete';

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
  op: ChangeOperation;
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
}

export type ChangeFeed = Channel<ChangeEvent>;

/** Committed record changes: in process when embedded, Redis pub/sub between data subgraph replicas. */
export const createChangeFeed = (redisUrl?: string, channel = 'objectos:changes'): ChangeFeed => createChannel<ChangeEvent>(channel, redisUrl);
