import { Kind, parse, print, visit, type DefinitionNode } from 'graphql';
import type { Inflection } from './inflection.ts';

const ROOTS = new Set(['Query', 'Mutation', 'Subscription']);
/** Never renamed: shared on purpose (PageInfo is @shareable, scalars compose as they are) or built in. */
const KEPT = new Set(['PageInfo', 'String', 'Int', 'Float', 'Boolean', 'ID', 'DateTime', 'Date', 'Time', 'JSON']);

const definedNames = (sdl: string): Set<string> =>
  new Set(parse(sdl).definitions.flatMap((d: DefinitionNode) =>
    'name' in d && d.name && d.kind !== Kind.DIRECTIVE_DEFINITION && d.kind !== Kind.SCALAR_TYPE_DEFINITION && !ROOTS.has(d.name.value) && !KEPT.has(d.name.value) ? [d.name.value] : []));

/**
 * A hand-written subgraph SDL (identity's) under an inflection's shared names: every type it defines
 * through `sharedType` (`User` → `CrmUser`) and every root field through `sharedField` (`me` →
 * `crmMe`), references included. The same rename as the data subgraph's generated names, for SDL that
 * is not generated; scalars, PageInfo and federation directives are untouched.
 */
export function renameSdl(sdl: string, names: Pick<Inflection, 'sharedType' | 'sharedField'>): string {
  const types = definedNames(sdl);
  const doc = visit(parse(sdl), {
    NamedType: (node) => (types.has(node.name.value) ? { ...node, name: { ...node.name, value: names.sharedType(node.name.value) } } : undefined),
    enter(node) {
      if ((node.kind === Kind.OBJECT_TYPE_DEFINITION || node.kind === Kind.OBJECT_TYPE_EXTENSION) && ROOTS.has(node.name.value))
        return { ...node, fields: node.fields?.map((f) => ({ ...f, name: { ...f.name, value: names.sharedField(f.name.value) } })) };
      if ('name' in node && node.name && node.kind !== Kind.NAMED_TYPE && node.kind !== Kind.FIELD_DEFINITION && node.kind !== Kind.INPUT_VALUE_DEFINITION
        && node.kind !== Kind.ENUM_VALUE_DEFINITION && node.kind !== Kind.DIRECTIVE && node.kind !== Kind.ARGUMENT && types.has(node.name.value))
        return { ...node, name: { ...node.name, value: names.sharedType(node.name.value) } };
      return undefined;
    },
  });
  return print(doc);
}

/** The resolver map of an SDL renamed by {@link renameSdl}: type keys and root field keys renamed alike. */
export function renameResolvers<R extends object>(sdl: string, resolvers: R, names: Pick<Inflection, 'sharedType' | 'sharedField'>): R {
  const types = definedNames(sdl);
  return Object.fromEntries(Object.entries(resolvers).map(([type, fields]: [string, unknown]) => {
    if (ROOTS.has(type)) return [type, Object.fromEntries(Object.entries(fields as Record<string, unknown>).map(([f, r]) => [names.sharedField(f), r]))];
    return [types.has(type) ? names.sharedType(type) : type, fields];
  })) as R;
}
