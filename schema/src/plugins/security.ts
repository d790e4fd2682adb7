import type { CompilerPlugin } from '../build.ts';
import type { SdlField } from '../sdl-builder.ts';

/** explainAccess and manual record shares: the security model's own API on the data subgraph. */
export const securityPlugin: CompilerPlugin = {
  name: 'security',
  build(b) {
    if (b.exposed.length === 0) return;
    const own = 'the security plugin';
    const objects = b.exposed.map((p) => p.object.name).join(', ');
    // The helper types and root fields, named through the inflection (a name prefix renames them too).
    const [recipient, level, reason, explanation, share, shareInput] = ['ShareRecipientType', 'ShareAccessLevel', 'AccessReason', 'AccessExplanation', 'RecordShare', 'ShareRecordInput'].map((n) => b.inflect.sharedType(n));
    b.sdl.addEnum(recipient!, ['USER', 'ROLE', 'ROLE_AND_SUBORDINATES', 'GROUP'], own, 'Who a record is shared with.');
    b.sdl.addEnum(level!, ['READ', 'EDIT'], own);
    b.sdl.add(reason!, `type ${reason}`, [
      { name: 'layer', signature: ': String!', description: 'tenant, object_permission, organization_wide_default, view_all, modify_all, owner, role_hierarchy, sharing_rule, manual_share, parent, row_level_security, field_permission.' },
      { name: 'rule', signature: ': String!', description: 'The permission set, sharing rule, policy… that decided.' },
      { name: 'access', signature: ': String!', description: 'What it is about: read, edit, delete, or a field.' },
      { name: 'effect', signature: ': String!', description: 'grants or denies.' },
    ], own, 'One rule that took part in an access decision.');
    b.sdl.add(explanation!, `type ${explanation}`, [
      { name: 'object', signature: ': String!' },
      { name: 'recordId', signature: ': ID!' },
      { name: 'field', signature: ': String' },
      { name: 'userId', signature: ': ID', description: 'Whose access this is.' },
      { name: 'allowed', signature: ': Boolean!', description: 'Can read the record (and the field, when one was asked about).' },
      { name: 'read', signature: ': Boolean!' },
      { name: 'edit', signature: ': Boolean!' },
      { name: 'delete', signature: ': Boolean!' },
      { name: 'fieldReadable', signature: ': Boolean' },
      { name: 'fieldEditable', signature: ': Boolean' },
      { name: 'profile', signature: ': String' },
      { name: 'permissionSets', signature: ': [String!]!' },
      { name: 'role', signature: ': String' },
      { name: 'reasons', signature: `: [${reason}!]!` },
    ], own, 'Why a member can or cannot reach a record: the rules that decided, layer by layer.');
    b.sdl.add(share!, `type ${share}`, [
      { name: 'id', signature: ': ID!' },
      { name: 'object', signature: ': String!' },
      { name: 'recordId', signature: ': ID!' },
      { name: 'sharedWithType', signature: `: ${recipient}!` },
      { name: 'sharedWith', signature: ': String!', description: 'A user id, role name or group name.' },
      { name: 'accessLevel', signature: `: ${level}!` },
      { name: 'grantedBy', signature: ': ID' },
      { name: 'createdAt', signature: ': DateTime!' },
    ], own, 'A manual share: one record opened to a user, role or group.');
    b.sdl.add(shareInput!, `input ${shareInput}`, [
      { name: 'object', signature: ': String!', description: `One of: ${objects}.` },
      { name: 'recordId', signature: ': ID!' },
      { name: 'sharedWithType', signature: `: ${recipient}!` },
      { name: 'sharedWith', signature: ': String!' },
      { name: 'accessLevel', signature: `: ${level}!` },
    ], own);
    const query: SdlField[] = [
      {
        name: b.inflect.sharedField('explainAccess'),
        signature: `(object: String!, id: ID!, field: String, userId: ID): ${explanation}!`,
        description: 'Whether the current member (or, for organization admins, `userId`) can read, edit and delete a record and one of its fields, with the rules that decided. A record you cannot read is explained exactly like one that does not exist.',
      },
      { name: b.inflect.sharedField('recordShares'), signature: `(object: String!, id: ID!): [${share}!]!`, description: 'Manual shares of a record you can read.' },
    ];
    const mutation: SdlField[] = [
      { name: b.inflect.sharedField('shareRecord'), signature: `(input: ${shareInput}!): ${share}!`, description: "Opens a record to a user, role or group (the record's owner, an organization admin or a holder of modifyAllRecords)." },
      { name: b.inflect.sharedField('unshareRecord'), signature: '(id: ID!): Boolean!', description: 'Removes a manual share; access it gave ends with the next request.' },
    ];
    if (b.sdl.has('Query')) b.sdl.addFields('Query', query, own);
    else b.sdl.add('Query', 'type Query', query, own);
    if (b.sdl.has('Mutation')) b.sdl.addFields('Mutation', mutation, own);
    else b.sdl.add('Mutation', 'type Mutation', mutation, own);
  },
};
