import type { FieldModel } from '@objectos/metadata';
import type { Build, CompilerPlugin } from '../build.ts';
import { searchColumns } from '../search-plan.ts';
import type { ColumnPlan, ObjectPlan } from '../plan.ts';
import type { SdlField } from '../sdl-builder.ts';
import { ENUM_FILTER_OPS, ENUM_LIST_FILTER_OPS, GRAPHQL_TYPES, opArgType } from '../type-map.ts';

/** GraphQL type of a column, without nullability. */
export function columnType(b: Build, p: ObjectPlan, c: ColumnPlan): string {
  if (c.type === 'id' || c.type === 'lookup' || c.type === 'master_detail') return 'ID';
  if (c.type === 'version') return 'Int';
  if (c.type === 'select') return b.inflect.enumType(p.object, c.field!);
  if (c.type === 'multiselect') return `[${b.inflect.enumType(p.object, c.field!)}!]`;
  return GRAPHQL_TYPES[c.type].scalar;
}

/**
 * Filters through relationships: a lookup takes the related object's `where`
 * (`account: { industry: { eq: finance } }`), a reverse relationship quantifies over the children.
 */
function relationFilters(b: Build, p: ObjectPlan): SdlField[] {
  const lookups = p.relations.filter((r) => b.isExposed(r.target)).map((r) => ({
    name: r.graphqlName, signature: `: ${b.inflect.whereInput(b.plan.objects[r.target]!.object)}`, description: `Matches when the ${r.field.label} matches (only records you can read).`,
  }));
  const children = p.reverse.filter((r) => b.isExposed(r.child)).map((r) => ({
    name: r.graphqlName, signature: `: ${b.inflect.relationFilterInput(b.plan.objects[r.child]!.object)}`,
  }));
  return [...lookups, ...children];
}

const describe = (f: FieldModel): string => {
  const text = f.description ? `${f.label}: ${f.description}` : f.label;
  if (f.type === 'formula') return `${text} (formula: ${f.expression})`;
  if (f.type === 'summary') {
    const s = f.summaryOperations;
    return `${text} (roll-up: ${s.function}${s.field ? ` of ${s.field}` : ''} over ${s.object}${s.filter ? ` where ${s.filter}` : ''})`;
  }
  return text;
};

/** Entity type, enums, filters, ordering, connection and the root query fields of each object. */
export const objectsPlugin: CompilerPlugin = {
  name: 'objects',
  build(b) {
    const { sdl, inflect } = b;
    const query: SdlField[] = [];
    for (const p of b.exposed) {
      const own = `object "${p.object.name}"`;
      for (const c of p.columns) {
        if (c.type !== 'select' && c.type !== 'multiselect') continue;
        const field = c.field as Extract<FieldModel, { type: 'select' | 'multiselect' }>;
        const enumName = inflect.enumType(p.object, field);
        sdl.addEnum(enumName, field.options.map((o) => o.value), own, `Options of ${p.object.name}.${field.name}.`);
        const list = c.type === 'multiselect';
        const ops = list ? ENUM_LIST_FILTER_OPS : ENUM_FILTER_OPS;
        sdl.add(inflect.enumFilter(enumName, list), `input ${inflect.enumFilter(enumName, list)}`,
          ops.map((op) => ({ name: op, signature: `: ${opArgType(op, enumName)}` })), own);
      }
      const fields: SdlField[] = [...p.columns, ...p.computed].map((c) => {
        const nonNull = c.field === null || c.field.required || c.type === 'autonumber';
        return {
          name: c.graphqlName,
          signature: `: ${columnType(b, p, c)}${nonNull ? '!' : ''}`,
          ...(c.field ? { description: describe(c.field) } : {}),
        };
      });
      for (const r of p.relations) {
        if (!b.isExposed(r.target)) continue;
        fields.push({ name: r.graphqlName, signature: `: ${b.plan.objects[r.target]!.typeName}`, description: describe(r.field) });
      }
      const desc = p.object.description ? `${p.object.label}: ${p.object.description}` : p.object.label;
      sdl.add(p.typeName, `type ${p.typeName} @key(fields: "id")`, fields, own, desc);

      const where = inflect.whereInput(p.object);
      sdl.add(where, `input ${where}`, [
        { name: 'and', signature: `: [${where}!]` },
        { name: 'or', signature: `: [${where}!]` },
        { name: 'not', signature: `: ${where}` },
        ...[...p.columns, ...p.computed].map((c) => ({ name: c.graphqlName, signature: `: ${c.filterInput}` })),
        ...relationFilters(b, p),
      ], own);
      const related = inflect.relationFilterInput(p.object);
      sdl.add(related, `input ${related}`, [
        { name: 'some', signature: `: ${where}`, description: `At least one readable ${p.object.label} matches.` },
        { name: 'none', signature: `: ${where}`, description: `No readable ${p.object.label} matches.` },
        { name: 'every', signature: `: ${where}`, description: `Every readable ${p.object.label} matches (true when there is none).` },
      ], own);
      const sortEnum = inflect.sortFieldEnum(p.object);
      sdl.addEnum(sortEnum, [...p.columns, ...p.computed].flatMap((c) => (c.sortValue ? [c.sortValue] : [])), own);
      const orderBy = inflect.orderByInput(p.object);
      sdl.add(orderBy, `input ${orderBy}`, [
        { name: 'field', signature: `: ${sortEnum}!` },
        { name: 'direction', signature: `: ${inflect.sharedType('SortDirection')} = ASC` },
      ], own);
      const edge = inflect.edgeType(p.object);
      sdl.add(edge, `type ${edge}`, [
        { name: 'cursor', signature: ': String!' },
        { name: 'node', signature: `: ${p.typeName}!` },
      ], own);
      const conn = inflect.connectionType(p.object);
      sdl.add(conn, `type ${conn}`, [
        { name: 'edges', signature: `: [${edge}!]!` },
        { name: 'nodes', signature: `: [${p.typeName}!]!` },
        { name: 'pageInfo', signature: ': PageInfo!' },
        { name: 'totalCount', signature: ': Int!', description: 'Number of records matching `where`, ignoring pagination.' },
      ], own);
      if (p.methods.includes('get'))
        query.push({ name: p.singleField, signature: `(id: ID!): ${p.typeName}`, description: `One ${p.object.label} by id, or null.` });
      if (p.methods.includes('list'))
        query.push({
          name: p.listField,
          signature: `(where: ${where}, ${searchColumns(p).length > 0 ? 'search: String, ' : ''}orderBy: [${orderBy}!], first: Int, after: String, last: Int, before: String, offset: Int): ${conn}!`,
          description: `${p.object.pluralLabel}: filter with where${searchColumns(p).length > 0 ? `, search the words of ${searchColumns(p).map((s) => s.c.graphqlName).join(', ')} (best matches first unless orderBy is given)` : ''}, sort with orderBy, page with first/after, last/before or offset.`,
        });
    }
    if (query.length > 0) b.sdl.add('Query', 'type Query', query, 'the objects plugin');
  },
};
