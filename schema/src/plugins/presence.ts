import type { CompilerPlugin } from '../build.ts';

/**
 * Presence (seed phase D, spec presence): who is viewing a record. `presence(object, id)` is a
 * subscription that makes you a viewer while it lasts and streams the record's viewers (every replica's);
 * `setPresence` marks you AWAY or ONLINE. Only for records you can read.
 */
export const presencePlugin: CompilerPlugin = {
  name: 'presence',
  build(b) {
    if (b.exposed.length === 0) return;
    const own = 'the presence plugin';
    const [status, viewer, presence] = ['PresenceStatus', 'PresenceViewer', 'RecordPresence'].map((n) => b.inflect.sharedType(n));
    const objects = b.exposed.map((p) => p.object.name).join(', ');
    b.sdl.addEnum(status!, ['ONLINE', 'AWAY'], own, 'Whether a viewer is active on the record.');
    b.sdl.add(viewer!, `type ${viewer}`, [
      { name: 'userId', signature: ': ID!' },
      { name: 'status', signature: `: ${status}!`, description: 'ONLINE when any of their connections is.' },
      { name: 'lastSeen', signature: ': DateTime!', description: 'Since when they are in this status (when they arrived, went away or came back).' },
    ], own, 'A member viewing a record.');
    b.sdl.add(presence!, `type ${presence}`, [
      { name: 'object', signature: ': String!' },
      { name: 'recordId', signature: ': ID!' },
      { name: 'viewers', signature: `: [${viewer}!]!`, description: 'Everyone viewing it now, you included, one entry per member.' },
    ], own, 'Who is viewing a record.');
    const sub = [{
      name: b.inflect.sharedField('presence'), signature: `(object: String!, id: ID!): ${presence}!`,
      description: `Makes you a viewer of a record you can read while the subscription lasts, and streams its viewers: now, and whenever someone arrives, leaves or changes status (across replicas). One of: ${objects}.`,
    }];
    const mutation = [{
      name: b.inflect.sharedField('setPresence'), signature: `(object: String!, id: ID!, status: ${status}!): Boolean!`,
      description: 'Marks you AWAY or ONLINE on a record you are viewing (presence); its other viewers are told.',
    }];
    if (b.sdl.has('Subscription')) b.sdl.addFields('Subscription', sub, own);
    else b.sdl.add('Subscription', 'type Subscription', sub, own);
    if (b.sdl.has('Mutation')) b.sdl.addFields('Mutation', mutation, own);
    else b.sdl.add('Mutation', 'type Mutation', mutation, own);
  },
};
