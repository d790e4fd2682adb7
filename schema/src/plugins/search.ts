import type { CompilerPlugin } from '../build.ts';
import { searchColumns } from '../search-plan.ts';

/**
 * Search across objects: `search(text, objects, first)` returns ranked hits, each with its typed record
 * (a union of the searchable objects). Only objects and records the caller can read are searched.
 */
export const searchPlugin: CompilerPlugin = {
  name: 'search',
  build(b) {
    const { sdl, inflect } = b;
    const searchable = b.exposed.filter((p) => p.methods.includes('get') && searchColumns(p).length > 0);
    if (searchable.length === 0) return;
    const own = 'the search plugin';
    const record = inflect.sharedType('SearchRecord');
    sdl.add(record, `union ${record} = ${searchable.map((p) => p.typeName).sort().join(' | ')}`, null, own, 'A record a search found.');
    const hit = inflect.sharedType('SearchHit');
    sdl.add(hit, `type ${hit}`, [
      { name: 'object', signature: ': String!', description: 'The object of the record (its metadata name).' },
      { name: 'rank', signature: ': Float!', description: 'How well the record matches (higher first; PostgreSQL ts_rank, display name weighing most).' },
      { name: 'record', signature: `: ${record}!` },
    ], own, 'One search result.');
    sdl.addFields('Query', [{
      name: inflect.sharedField('search'),
      signature: `(text: String!, objects: [String!], first: Int = 20): [${hit}!]!`,
      description: `Searches the words of every record you can read, best matches first. objects: any of ${searchable.map((p) => p.object.name).join(', ')} (default: all).`,
    }], own);
  },
};
