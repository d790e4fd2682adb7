import {
  GraphQLIncludeDirective, GraphQLSkipDirective, getDirectiveValues, isAbstractType, Kind,
  type FieldNode, type FragmentDefinitionNode, type GraphQLObjectType, type GraphQLSchema, type SelectionSetNode,
} from 'graphql';

/**
 * The fields of a selection set on a concrete object type, as graphql-js's collectFields does:
 * fragments and inline fragments whose type condition matches, `@skip`/`@include` honoured, fields with
 * the same response key merged, in first-seen order.
 */
export function collectFields(
  schema: GraphQLSchema, type: GraphQLObjectType, selections: readonly SelectionSetNode[],
  fragments: Record<string, FragmentDefinitionNode>, variables: Record<string, unknown>,
): Map<string, FieldNode[]> {
  const out = new Map<string, FieldNode[]>();
  const visited = new Set<string>();
  const included = (node: { directives?: readonly unknown[] } & Parameters<typeof getDirectiveValues>[1]): boolean => {
    if (!node.directives?.length) return true;
    if (getDirectiveValues(GraphQLSkipDirective, node, variables)?.['if'] === true) return false;
    return getDirectiveValues(GraphQLIncludeDirective, node, variables)?.['if'] !== false;
  };
  const applies = (condition: string | undefined): boolean => {
    if (!condition || condition === type.name) return true;
    const t = schema.getType(condition);
    return t !== undefined && isAbstractType(t) && schema.isSubType(t, type);
  };
  const walk = (set: SelectionSetNode): void => {
    for (const s of set.selections) {
      if (!included(s)) continue;
      if (s.kind === Kind.FIELD) {
        const key = s.alias?.value ?? s.name.value;
        const list = out.get(key);
        if (list) list.push(s);
        else out.set(key, [s]);
      } else if (s.kind === Kind.INLINE_FRAGMENT) {
        if (applies(s.typeCondition?.name.value)) walk(s.selectionSet);
      } else {
        const name = s.name.value;
        if (visited.has(name)) continue;
        visited.add(name);
        const f = fragments[name];
        if (f && applies(f.typeCondition.name.value)) walk(f.selectionSet);
      }
    }
  };
  for (const set of selections) walk(set);
  return out;
}
