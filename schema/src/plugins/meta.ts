import type { CompilerPlugin } from '../build.ts';
import type { SdlField } from '../sdl-builder.ts';

/**
 * Metadata discovery on the data subgraph: `objects` and `object(name)`, the objects and fields the
 * caller can read (see describe.ts, which also answers `GET /api/v1/meta/objects` on the gateway).
 */
export const metaPlugin: CompilerPlugin = {
  name: 'meta',
  build(b) {
    if (b.exposed.length === 0) return;
    const own = 'the meta plugin';
    // Named through the inflection, like every shared type and root field (a name prefix renames them).
    const [object, field, option, enable, permissions, names, child] = [
      'ObjectMetadata', 'FieldMetadata', 'SelectOption', 'ObjectEnableFlags', 'ObjectPermissions', 'ObjectGraphQLNames', 'ChildRelationship',
    ].map((n) => b.inflect.sharedType(n));
    b.sdl.add(option!, `type ${option}`, [
      { name: 'label', signature: ': String!' },
      { name: 'value', signature: ': String!', description: 'The stored value, and the GraphQL enum value.' },
      { name: 'color', signature: ': String' },
      { name: 'default', signature: ': Boolean!', description: "The field's defaultValue is (or includes) this option." },
    ], own, 'An option of a select or multiselect field.');
    b.sdl.add(field!, `type ${field}`, [
      { name: 'name', signature: ': String!', description: 'Metadata name (annual_revenue).' },
      { name: 'graphqlName', signature: ': String!', description: 'Name in GraphQL outputs, where and inputs (annualRevenue; accountId for a lookup).' },
      { name: 'label', signature: ': String!' },
      { name: 'description', signature: ': String' },
      { name: 'type', signature: ': String!', description: 'Spec field type: text, textarea, email, url, phone, number, currency, percent, boolean, date, datetime, time, select, multiselect, lookup, master_detail, json, autonumber, formula, summary.' },
      { name: 'required', signature: ': Boolean!' },
      { name: 'unique', signature: ': Boolean!' },
      { name: 'searchable', signature: ': Boolean!', description: 'Its words are found by search.' },
      { name: 'hidden', signature: ': Boolean!', description: 'A UI hint (spec hidden), not security: a field you cannot read is not described at all.' },
      { name: 'readonly', signature: ': Boolean!', description: 'No input can set it, for anyone.' },
      { name: 'editable', signature: ': Boolean!', description: 'You may set it in create and update inputs.' },
      { name: 'defaultValue', signature: ': JSON' },
      { name: 'minLength', signature: ': Int' },
      { name: 'maxLength', signature: ': Int' },
      { name: 'min', signature: ': Float' },
      { name: 'max', signature: ': Float' },
      { name: 'precision', signature: ': Int' },
      { name: 'scale', signature: ': Int' },
      { name: 'options', signature: `: [${option}!]`, description: 'select and multiselect: the options, in declaration order.' },
      { name: 'reference', signature: ': String', description: 'lookup and master_detail: the referenced object, when you can read it.' },
      { name: 'relationField', signature: ': String', description: 'lookup and master_detail: the GraphQL field resolving to the referenced record, with reference.' },
      { name: 'expression', signature: ': String', description: 'formula: its expression (computed when read, never stored).' },
      { name: 'summaryOperations', signature: ': JSON', description: 'summary (roll-up): { object, field, function, relationship, filter } over the child records you can read.' },
      { name: 'returnType', signature: ': String', description: 'formula and summary: the type of the value (text, number, currency, percent, boolean, date, datetime).' },
    ], own, 'A field you can read.');
    b.sdl.add(enable!, `type ${enable}`, [
      { name: 'trash', signature: ': Boolean!', description: 'A delete moves the record to the trash.' },
      { name: 'searchable', signature: ': Boolean!', description: 'The list field takes search, and search finds its records.' },
      { name: 'trackHistory', signature: ': Boolean!' },
      { name: 'apiMethods', signature: ': [String!]!', description: 'The operations generated: get, list, create, update, delete, restore, purge.' },
    ], own, 'Spec enable flags a client acts on.');
    b.sdl.add(permissions!, `type ${permissions}`, ['read', 'create', 'edit', 'delete'].map((n) => ({ name: n, signature: ': Boolean!' })), own,
      'What you may do with the records of an object (sharing still decides which records).');
    b.sdl.add(names!, `type ${names}`, [
      { name: 'typeName', signature: ': String!' },
      ...['singleField', 'listField', 'trashField', 'createMutation', 'updateMutation', 'deleteMutation', 'restoreMutation', 'purgeMutation', 'transferMutation', 'changedSubscription']
        .map((n) => ({ name: n, signature: ': String' })),
    ], own, 'The GraphQL names of an object (null: not generated for it).');
    b.sdl.add(child!, `type ${child}`, [
      { name: 'name', signature: ': String!', description: 'The field on the parent listing the children (contacts).' },
      { name: 'object', signature: ': String!', description: 'The child object.' },
      { name: 'field', signature: ': String!', description: "The child's lookup field." },
    ], own, 'Records of another object listed under a record.');
    b.sdl.add(object!, `type ${object}`, [
      { name: 'name', signature: ': String!' },
      { name: 'label', signature: ': String!' },
      { name: 'pluralLabel', signature: ': String!' },
      { name: 'description', signature: ': String' },
      { name: 'icon', signature: ': String' },
      { name: 'displayNameField', signature: ': String', description: 'The field naming a record, when you can read it.' },
      { name: 'enable', signature: `: ${enable}!` },
      { name: 'permissions', signature: `: ${permissions}!` },
      { name: 'graphql', signature: `: ${names}!` },
      { name: 'fields', signature: `: [${field}!]!`, description: 'The fields you can read, in declaration order.' },
      { name: 'childRelationships', signature: `: [${child}!]!` },
    ], own, 'An object you can read, with only the fields you can read.');
    const query: SdlField[] = [
      { name: b.inflect.sharedField('objects'), signature: `: [${object}!]!`, description: 'The objects you can read, by name, each with the fields you can read (also GET /api/v1/meta/objects).' },
      {
        name: b.inflect.sharedField('object'),
        signature: `(name: String!): ${object}`,
        description: 'One object by metadata name; null when there is none or you cannot read it (the same answer).',
      },
    ];
    if (b.sdl.has('Query')) b.sdl.addFields('Query', query, own);
    else b.sdl.add('Query', 'type Query', query, own);
  },
};
