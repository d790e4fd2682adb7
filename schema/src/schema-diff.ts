import { CriticalityLevel, diff, type Change } from '@graphql-inspector/core';
import { buildASTSchema, Kind, parse, type DefinitionNode, type DocumentNode, type GraphQLSchema } from 'graphql';

/** The changes between two versions of the client-facing schema, by what they do to existing clients. */
export interface SchemaChanges {
  /** Operations that worked may now fail (a removed field, a narrower type, a new required argument). */
  breaking: Change[];
  /** Operations still validate, but may see something new (an added enum value, a changed default). */
  dangerous: Change[];
  safe: Change[];
}

const INTERNAL = /^(join__|link__|core__)/;
const hasInaccessible = (node: { directives?: readonly { name: { value: string } }[] }) =>
  node.directives?.some((d) => d.name.value === 'inaccessible') ?? false;

/**
 * The API a client sees, from a subgraph's SDL, the public SDL or a supergraph: federation's own
 * definitions (`join__*`, `link__*`, their directives) and everything `@inaccessible` left out.
 */
export function apiSchemaOf(sdl: string): GraphQLSchema {
  const doc = parse(sdl, { noLocation: true });
  const definitions = doc.definitions.flatMap((d): DefinitionNode[] => {
    if (d.kind === Kind.DIRECTIVE_DEFINITION) return [];
    if (d.kind === Kind.SCHEMA_DEFINITION || d.kind === Kind.SCHEMA_EXTENSION) return [{ ...d, directives: [] }];
    if (!('name' in d) || !d.name || INTERNAL.test(d.name.value) || hasInaccessible(d)) return [];
    const out: Record<string, unknown> = { ...d, directives: [] };
    if ('fields' in d && d.fields) out['fields'] = (d.fields as readonly { directives?: readonly { name: { value: string } }[] }[]).filter((f) => !hasInaccessible(f)).map((f) => ({ ...f, directives: [] }));
    if ('values' in d && d.values) out['values'] = d.values.filter((v) => !hasInaccessible(v)).map((v) => ({ ...v, directives: [] }));
    return [out as unknown as DefinitionNode];
  });
  return buildASTSchema({ kind: Kind.DOCUMENT, definitions } as DocumentNode, { assumeValidSDL: true });
}

/** What changed from `before` to `after` (SDL or supergraph text), with @graphql-inspector/core. */
export async function schemaChanges(before: string, after: string): Promise<SchemaChanges> {
  const changes = await diff(apiSchemaOf(before), apiSchemaOf(after));
  return {
    breaking: changes.filter((c) => c.criticality.level === CriticalityLevel.Breaking),
    dangerous: changes.filter((c) => c.criticality.level === CriticalityLevel.Dangerous),
    safe: changes.filter((c) => c.criticality.level === CriticalityLevel.NonBreaking),
  };
}

/** The report printed in CI: one line per change, breaking first, with the path and the reason. */
export function formatChanges(c: SchemaChanges, title: string): string {
  const line = (mark: string) => (x: Change) => `  ${mark}: ${x.message}${x.path ? `  (${x.path})` : ''}${x.criticality.reason ? ` — ${x.criticality.reason}` : ''}`;
  const total = c.breaking.length + c.dangerous.length + c.safe.length;
  if (total === 0) return `${title}: no changes to the client-facing schema`;
  return [
    `${title}: ${c.breaking.length} breaking, ${c.dangerous.length} dangerous, ${c.safe.length} safe`,
    ...c.breaking.map(line('✗ breaking')),
    ...c.dangerous.map(line('! dangerous')),
    ...c.safe.map(line('✓ safe')),
  ].join('\n');
}
