import type { Build, CompilerPlugin } from '../build.ts';
import type { ColumnPlan, ObjectPlan } from '../plan.ts';
import type { SdlField } from '../sdl-builder.ts';
import { columnType } from './objects.ts';

const writable = (p: ObjectPlan): ColumnPlan[] => p.columns.filter((c) => c.field !== null && c.type !== 'autonumber' && !c.field.readonly);
/** Fields an object can be upserted on: unique ones, which include every externalId. */
export const upsertColumns = (p: ObjectPlan): ColumnPlan[] => writable(p).filter((c) => c.field!.unique || c.field!.externalId);
const required = (c: ColumnPlan): boolean => c.field!.required && !('defaultValue' in c.field! && c.field.defaultValue !== undefined);

/** The children writes a create or update input of `p` may carry, one field per reverse relationship. */
function childWriteFields(b: Build, p: ObjectPlan): SdlField[] {
  return p.reverse.filter((r) => b.isExposed(r.child) && b.plan.objects[r.child]!.methods.includes('create')).map((r) => ({
    name: r.graphqlName,
    signature: `: ${b.inflect.childWritesInput(p.object, r.graphqlName)}`,
    description: `${b.plan.objects[r.child]!.object.pluralLabel} to create under this ${p.object.label}, or existing ones to connect (or, on update, disconnect), in the same transaction.`,
  }));
}

/**
 * Writes beyond one record: `createAccounts(inputs)`, `updateAccounts(where, input)`,
 * `deleteAccounts(where)` (all or nothing, at most OBJECTOS_BULK_MAX records), `upsertAccount(input, on)`
 * on a unique or externalId field, and nested writes: a create or update input carries its children
 * (`contacts: { create: [...], connect: [ids], disconnect: [ids] }`), written in one transaction.
 */
export const bulkWritesPlugin: CompilerPlugin = {
  name: 'bulk-writes',
  build(b) {
    const { sdl, inflect } = b;
    const mutation: SdlField[] = [];
    for (const p of b.exposed) {
      const own = `object "${p.object.name}"`;
      const m = p.methods;
      // Nested children: the child's create input without the foreign key the parent fills in.
      for (const r of p.reverse) {
        const child = b.plan.objects[r.child]!;
        if (!b.isExposed(r.child) || !child.methods.includes('create')) continue;
        const create = inflect.childCreateInput(p.object, r.graphqlName);
        sdl.add(create, `input ${create}`, [
          ...writable(child).filter((c) => c.column !== r.column).map((c) => ({ name: c.graphqlName, signature: `: ${columnType(b, child, c)}${required(c) ? '!' : ''}` })),
          ...childWriteFields(b, child),
        ], own, `A ${child.object.label} created under a ${p.object.label} (its ${r.field.label} is the parent).`);
        const writes = inflect.childWritesInput(p.object, r.graphqlName);
        sdl.add(writes, `input ${writes}`, [
          { name: 'create', signature: `: [${create}!]` },
          { name: 'connect', signature: ': [ID!]', description: `Existing ${child.object.pluralLabel} (that you can edit) to move under this ${p.object.label}.` },
          { name: 'disconnect', signature: ': [ID!]', description: `${child.object.pluralLabel} of this ${p.object.label} to detach (only when ${r.field.label} is optional).` },
        ], own);
      }
      const nested = childWriteFields(b, p);
      if (m.includes('create') && nested.length) sdl.addFields(inflect.createInput(p.object), nested, own);
      if (m.includes('update') && nested.length) sdl.addFields(inflect.updateInput(p.object), nested, own);

      const bulk = inflect.bulkResultType(p.object);
      if (m.includes('update') || m.includes('delete'))
        sdl.add(bulk, `type ${bulk}`, [
          { name: 'count', signature: ': Int!', description: 'Records written.' },
          { name: 'records', signature: `: [${p.typeName}!]!`, description: 'Each record as written (a deleted one as it was).' },
        ], own);
      if (m.includes('create'))
        mutation.push({ name: inflect.bulkCreateMutation(p.object), signature: `(inputs: [${inflect.createInput(p.object)}!]!): [${p.typeName}!]!`, description: `Creates ${p.object.pluralLabel}, all or none (at most OBJECTOS_BULK_MAX).` });
      if (m.includes('update'))
        mutation.push({
          name: inflect.bulkUpdateMutation(p.object), signature: `(where: ${inflect.whereInput(p.object)}!, input: ${inflect.updateInput(p.object)}!): ${bulk}!`,
          description: `Updates every ${p.object.label} matching where that you can edit, all or none; more than OBJECTOS_BULK_MAX matching is refused, writing nothing.`,
        });
      if (m.includes('delete'))
        mutation.push({
          name: inflect.bulkDeleteMutation(p.object), signature: `(where: ${inflect.whereInput(p.object)}!): ${bulk}!`,
          description: `Deletes every ${p.object.label} matching where that you can delete${p.object.enable.trash ? ' (to the trash)' : ''}, all or none; more than OBJECTOS_BULK_MAX matching is refused, writing nothing.`,
        });
      const keys = upsertColumns(p);
      if (m.includes('create') && m.includes('update') && keys.length > 0) {
        const keyEnum = inflect.upsertKeyEnum(p.object);
        sdl.addEnum(keyEnum, keys.map((c) => c.sortValue!), own, `Unique or externalId fields of ${p.object.name} an upsert can match on.`);
        const result = inflect.upsertResultType(p.object);
        sdl.add(result, `type ${result}`, [
          { name: 'created', signature: ': Boolean!', description: 'True when no record had the value and one was created.' },
          { name: 'record', signature: `: ${p.typeName}!` },
        ], own);
        mutation.push({
          name: inflect.upsertMutation(p.object), signature: `(input: ${inflect.createInput(p.object)}!, on: ${keyEnum}!): ${result}!`,
          description: `Updates the ${p.object.label} whose \`on\` field has the input's value, or creates one.`,
        });
      }
    }
    if (mutation.length > 0) sdl.addFields('Mutation', mutation, 'the bulk-writes plugin');
  },
};
