import type { CompilerPlugin } from '../build.ts';
import type { SdlBuilder, SdlField } from '../sdl-builder.ts';

function addRoot(sdl: SdlBuilder, root: 'Query' | 'Mutation', fields: SdlField[]): void {
  if (fields.length === 0) return;
  if (sdl.has(root)) sdl.addFields(root, fields, 'the lifecycle plugin');
  else sdl.add(root, `type ${root}`, fields, 'the lifecycle plugin');
}

/**
 * Record lifecycle beyond create/update/delete: owner transfer (with `update`), and for objects with
 * `enable.trash` the trash (`trashedAccounts`), `restore` and `purge` (apiMethods `restore`, `purge`).
 */
export const lifecyclePlugin: CompilerPlugin = {
  name: 'lifecycle',
  build(b) {
    const query: SdlField[] = [];
    const mutation: SdlField[] = [];
    for (const p of b.exposed) {
      const label = p.object.label;
      if (p.methods.includes('update'))
        mutation.push({
          name: p.transferMutation,
          signature: `(id: ID!, newOwnerId: ID!, expectedVersion: Int): ${p.typeName}!`,
          description: `Gives a ${label} another owner, a member of the organization. Needs edit access to the record and to be its owner, an organization admin, or to hold modifyAllRecords or allowTransfer on the object.`,
        });
      if (p.methods.includes('restore'))
        mutation.push({
          name: p.restoreMutation,
          signature: `(id: ID!): ${p.typeName}!`,
          description: `Brings a ${label} back from the trash, with the records that went to the trash with it. Needs the delete access its deletion needed.`,
        });
      if (p.methods.includes('purge'))
        mutation.push({
          name: p.purgeMutation,
          signature: `(id: ID!): ${p.typeName}!`,
          description: `Deletes a ${label} in the trash for good (with the records that went with it) and returns it as it was. Needs the delete access its deletion needed.`,
        });
      if (p.methods.includes('restore') || p.methods.includes('purge')) {
        const where = b.inflect.whereInput(p.object);
        const orderBy = b.inflect.orderByInput(p.object);
        query.push({
          name: p.trashField,
          signature: `(where: ${where}, orderBy: [${orderBy}!], first: Int, after: String, last: Int, before: String, offset: Int): ${b.inflect.connectionType(p.object)}!`,
          description: `${p.object.pluralLabel} in the trash that you could restore or purge (needs delete access), paged like ${p.listField}.`,
        });
      }
    }
    addRoot(b.sdl, 'Query', query);
    addRoot(b.sdl, 'Mutation', mutation);
  },
};
