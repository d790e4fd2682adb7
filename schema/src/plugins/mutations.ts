import type { CompilerPlugin } from '../build.ts';
import type { SdlField } from '../sdl-builder.ts';
import { columnType } from './objects.ts';

/** Create/update inputs and the create, update and delete mutations. */
export const mutationsPlugin: CompilerPlugin = {
  name: 'mutations',
  build(b) {
    const mutation: SdlField[] = [];
    for (const p of b.exposed) {
      const own = `object "${p.object.name}"`;
      // readonly fields keep their default (or stay empty): no input can set them.
      const writable = p.columns.filter((c) => c.field !== null && c.type !== 'autonumber' && !c.field.readonly);
      if (p.methods.includes('create')) {
        const input = b.inflect.createInput(p.object);
        b.sdl.add(input, `input ${input}`, writable.map((c) => {
          const needed = c.field!.required && !('defaultValue' in c.field! && c.field.defaultValue !== undefined);
          return { name: c.graphqlName, signature: `: ${columnType(b, p, c)}${needed ? '!' : ''}` };
        }), own);
        mutation.push({ name: p.createMutation, signature: `(input: ${input}!): ${p.typeName}!`, description: `Creates a ${p.object.label}.` });
      }
      if (p.methods.includes('update')) {
        const input = b.inflect.updateInput(p.object);
        b.sdl.add(input, `input ${input}`, writable.map((c) => ({ name: c.graphqlName, signature: `: ${columnType(b, p, c)}` })), own);
        mutation.push({
          name: p.updateMutation,
          signature: `(id: ID!, input: ${input}!, expectedVersion: Int): ${p.typeName}!`,
          description: `Updates the given fields of a ${p.object.label}; fields left out keep their value. With expectedVersion, fails with CONFLICT (changing nothing) unless the record is still at that version.`,
        });
      }
      if (p.methods.includes('delete'))
        mutation.push({
          name: p.deleteMutation, signature: `(id: ID!): ${p.typeName}!`,
          description: p.object.enable.trash
            ? `Moves a ${p.object.label} to the trash (with the records its deletes cascade to) and returns it as it was.`
            : `Deletes a ${p.object.label} and returns it as it was.`,
        });
    }
    if (mutation.length > 0) b.sdl.add('Mutation', 'type Mutation', mutation, 'the mutations plugin');
  },
};
