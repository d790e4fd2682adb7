import type { CompilerPlugin } from '../build.ts';
import type { SdlField } from '../sdl-builder.ts';

/**
 * Live change events: `<object>Changed(where, id, operations, after)` per listable object, delivering
 * `<Object>Change { op, recordId, record, previous, changedFields, at, eventId }`; a share granted or revoked
 * is an ENTERED or LEFT event for those whose view it changed. Each event is checked against
 * the subscriber's record and field access when it is delivered (data subgraph).
 */
export const subscriptionsPlugin: CompilerPlugin = {
  name: 'subscriptions',
  build(b) {
    const listable = b.exposed.filter((p) => p.methods.includes('list'));
    if (listable.length === 0) return;
    const own = 'the subscriptions plugin';
    const changeOperation = b.inflect.sharedType('ChangeOperation');
    b.sdl.addEnum(changeOperation, ['CREATED', 'UPDATED', 'DELETED', 'ENTERED', 'LEFT'], own, 'What happened to a record: created, updated, deleted; or it entered or left your view: by a share granted or revoked (of it, or of the record it belongs to), an update, or a change of your own role, groups or permission sets (LEFT carries its id only; after a change of your access the subscription then ends: subscribe again, with after the eventId of the LEFT).');
    const fields: SdlField[] = [];
    for (const p of listable) {
      b.sdl.add(p.changeType, `type ${p.changeType}`, [
        { name: 'eventId', signature: ': ID!', description: 'Unique per change; a redelivered event keeps its id.' },
        { name: 'op', signature: `: ${changeOperation}!` },
        { name: 'recordId', signature: ': ID!', description: 'The record changed (the only thing said of a record that LEFT your view).' },
        { name: 'record', signature: `: ${p.typeName}`, description: 'The record after the change (null when deleted or LEFT).' },
        { name: 'previous', signature: `: ${p.typeName}`, description: 'The record before the change (null when created).' },
        { name: 'changedFields', signature: ': [String!]!', description: 'GraphQL names of the fields whose value changed (every field on create and delete).' },
        { name: 'at', signature: ': DateTime!', description: 'When the change was committed.' },
      ], `object "${p.object.name}"`, `A change to a ${p.object.label} you can read.`);
      const where = b.inflect.whereInput(p.object);
      fields.push({
        name: p.changedSubscription,
        signature: `(where: ${where}, id: ID, operations: [${changeOperation}!], after: ID): ${p.changeType}!`,
        description: `Changes to ${p.object.pluralLabel} you can read, as they are committed: only records matching where (and id), only the operations listed (default all). Fields you cannot read are null. With after (the eventId of the last change you received), the changes published since then are delivered first, then live ones, with no gap and no repeat; a cursor older than the retention window is refused, naming the oldest event available.`,
      });
    }
    b.sdl.add('Subscription', 'type Subscription', fields, own);
  },
};
