import { composeServices } from '@theguild/federation-composition';
import { parse, type DocumentNode } from 'graphql';

export interface SubgraphSdl {
  name: string;
  url: string;
  sdl: string;
}

/** Composition failed: each problem names the subgraph(s) involved and the reason. */
export class CompositionError extends Error {
  readonly code = 'COMPOSITION_FAILED' as const;
  constructor(readonly problems: string[]) {
    super(`Supergraph composition failed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'CompositionError';
  }
}

/** Composes subgraph SDL into a Federation v2 supergraph, or throws a {@link CompositionError}. */
export function composeSupergraph(subgraphs: readonly SubgraphSdl[]): string {
  return compose(subgraphs).supergraphSdl;
}

/** The client-facing schema of the composed subgraphs (no federation internals): what codegen reads. */
export function composePublicSdl(subgraphs: readonly SubgraphSdl[]): string {
  return compose(subgraphs).publicSdl;
}

function compose(subgraphs: readonly SubgraphSdl[]): { supergraphSdl: string; publicSdl: string } {
  const problems: string[] = [];
  const names = new Set<string>();
  const services: { name: string; url: string; typeDefs: DocumentNode }[] = [];
  for (const s of subgraphs) {
    if (names.has(s.name)) problems.push(`subgraph "${s.name}" is listed twice`);
    names.add(s.name);
    try {
      services.push({ name: s.name, url: s.url, typeDefs: parse(s.sdl) });
    } catch (e) {
      problems.push(`subgraph "${s.name}": its SDL does not parse: ${(e as Error).message}`);
    }
  }
  if (problems.length > 0) throw new CompositionError(problems);
  const result = composeServices(services);
  if (result.errors) {
    throw new CompositionError(result.errors.map((e) => {
      const code = typeof e.extensions['code'] === 'string' ? ` [${e.extensions['code']}]` : '';
      const mentioned = services.filter((s) => e.message.includes(`"${s.name}"`)).map((s) => s.name);
      const who = mentioned.length > 0 ? '' : ` (subgraphs: ${services.map((s) => s.name).join(', ')})`;
      return `${e.message}${code}${who}`;
    }));
  }
  return result;
}
