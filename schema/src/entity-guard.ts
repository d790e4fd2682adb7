import { GraphQLError, isUnionType, type GraphQLSchema } from 'graphql';

/**
 * `_entities` refuses a representation whose `__typename` is not one of this subgraph's entities
 * (`Query`, `__Schema`, a plain object type, a typo) with BAD_USER_INPUT naming it, before any
 * resolver runs: @apollo/subgraph would otherwise fail it as an unexpected error (INTERNAL) after
 * resolving, or return data for a type that is not an entity. Changes the schema's resolver in place.
 */
export function guardEntityTypes(schema: GraphQLSchema): GraphQLSchema {
  const field = schema.getQueryType()?.getFields()['_entities'];
  const union = schema.getType('_Entity');
  if (!field?.resolve || !isUnionType(union)) return schema;
  const known = new Set(union.getTypes().map((t) => t.name));
  const list = [...known].sort().join(', ');
  const resolve = field.resolve;
  field.resolve = (source, args: { representations?: unknown }, context, info) => {
    const representations = Array.isArray(args.representations) ? args.representations : [];
    for (const [i, r] of representations.entries()) {
      const typename = r && typeof r === 'object' ? (r as { __typename?: unknown }).__typename : undefined;
      if (typeof typename !== 'string' || !known.has(typename))
        throw new GraphQLError(`representations[${i}]: ${typeof typename === 'string' ? `"${typename}" is not an entity of this subgraph` : 'no __typename'} (entities: ${list})`, { extensions: { code: 'BAD_USER_INPUT' } });
    }
    return resolve(source, args, context, info);
  };
  return schema;
}
