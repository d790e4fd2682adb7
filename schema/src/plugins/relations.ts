import type { CompilerPlugin } from '../build.ts';

/** Reverse relationships: `account.contacts(where, orderBy, limit, offset)` on each parent type. */
export const relationsPlugin: CompilerPlugin = {
  name: 'relations',
  build(b) {
    for (const parent of b.exposed) {
      const fields = parent.reverse
        .filter((r) => b.isExposed(r.child) && b.plan.objects[r.child]!.methods.includes('list'))
        .map((r) => {
          const child = b.plan.objects[r.child]!;
          return {
            name: r.graphqlName,
            signature: `(where: ${b.inflect.whereInput(child.object)}, orderBy: [${b.inflect.orderByInput(child.object)}!], limit: Int, offset: Int): [${child.typeName}!]!`,
            description: `${child.object.pluralLabel} whose ${r.field.label} is this ${parent.object.label}.`,
          };
        });
      if (fields.length > 0) b.sdl.addFields(parent.typeName, fields, `the relations of "${parent.object.name}"`);
    }
  },
};
