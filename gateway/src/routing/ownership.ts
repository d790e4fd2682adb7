import {
  getNamedType, isAbstractType, Kind, parse, TypeInfo, visit, visitWithTypeInfo,
  type DocumentNode, type FieldDefinitionNode, type GraphQLSchema, type OperationDefinitionNode,
} from 'graphql';

/**
 * Which subgraph can answer which `Type.field`, read from each subgraph's own SDL: a field a subgraph
 * defines (not `@external`) is one it resolves itself.
 */
export type Ownership = Map<string, Map<string, Set<string>>>;

export function buildOwnership(subgraphs: readonly { name: string; sdl: string }[]): Ownership {
  const owned: Ownership = new Map();
  for (const s of subgraphs) {
    const doc = parse(s.sdl);
    for (const def of doc.definitions) {
      if (def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION && def.kind !== Kind.INTERFACE_TYPE_DEFINITION && def.kind !== Kind.INTERFACE_TYPE_EXTENSION) continue;
      let fields = owned.get(def.name.value);
      if (!fields) owned.set(def.name.value, (fields = new Map()));
      for (const f of (def.fields ?? []) as readonly FieldDefinitionNode[]) {
        if (f.directives?.some((d) => d.name.value === 'external')) continue;
        let by = fields.get(f.name.value);
        if (!by) fields.set(f.name.value, (by = new Set()));
        by.add(s.name);
      }
    }
  }
  return owned;
}

/**
 * The one-hop path only for ObjectOS's own subgraphs: a field an external subgraph also defines
 * (`@shareable`, `@override`, `@requires`…) is left to the query planner.
 */
export function internalOwnership(sdls: readonly { name: string; sdl: string }[], senders: readonly { name: string; internal: boolean }[]): Ownership {
  const internal = new Set(senders.filter((s) => s.internal).map((s) => s.name));
  const owned = buildOwnership(sdls);
  for (const fields of owned.values())
    for (const [field, by] of fields) if ([...by].some((n) => !internal.has(n))) fields.delete(field);
  return owned;
}

/**
 * The one subgraph that can answer a whole operation by itself, or null: every field selected
 * (fragments included) must be defined by that subgraph on an object type, and nothing may ask the
 * gateway's own schema (`__schema`, `__type`).
 */
export function soleSubgraph(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, owned: Ownership): string | null {
  let candidates: Set<string> | null = null;
  let ok = true;
  const info = new TypeInfo(schema);
  const fragments = new Map(document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const used = new Set<string>();
  const check = (node: OperationDefinitionNode | NonNullable<ReturnType<typeof fragments.get>>) =>
    visit(node, visitWithTypeInfo(info, {
      Field(field) {
        if (!ok) return false;
        const name = field.name.value;
        if (name === '__typename') return undefined;
        const parent = info.getParentType();
        if (name.startsWith('__') || !parent || isAbstractType(parent) || !info.getFieldDef()) {
          ok = false;
          return false;
        }
        const by = owned.get(parent.name)?.get(name);
        const next: Set<string> = new Set([...(by ?? [])].filter((s) => candidates === null || candidates.has(s)));
        if (next.size === 0) {
          ok = false;
          return false;
        }
        candidates = next;
        // An abstract result would need the gateway to resolve its concrete type across subgraphs.
        if (isAbstractType(getNamedType(info.getType()))) ok = false;
        return undefined;
      },
      FragmentSpread(spread) {
        used.add(spread.name.value);
      },
    }));
  check(operation);
  // Fragments are walked with the type they apply to (the walk above only notes their names).
  const done = new Set<string>();
  while (ok) {
    const next = [...used].find((n) => !done.has(n));
    if (next === undefined) break;
    done.add(next);
    const fragment = fragments.get(next);
    if (!fragment) return null;
    check(fragment);
  }
  const final = candidates as Set<string> | null;
  return ok && final !== null && final.size > 0 ? [...final][0]! : null;
}
