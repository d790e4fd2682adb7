import { readFile } from 'node:fs/promises';
import { Kind, parse, type ConstDirectiveNode, type EnumTypeDefinitionNode } from 'graphql';
import { PRINCIPAL_HEADER, SYSTEM, encodePrincipal } from '@objectos/principal';

/** What the gateway needs to call a subgraph: its name (the audience of every call) and where it is. */
export interface SubgraphAddress {
  name: string;
  url: string;
  /** In-process handler: requests never leave the process (a server context, say `handoff()`'s, may go along). */
  fetch?: (request: Request, serverContext?: Record<string, unknown>) => Promise<Response>;
}

const stringArg = (d: ConstDirectiveNode, name: string): string | undefined => {
  const v = d.arguments?.find((a) => a.name.value === name)?.value;
  return v?.kind === Kind.STRING ? v.value : undefined;
};

/**
 * The subgraphs a supergraph names (`enum join__Graph { A @join__graph(name: "a", url: "…") }`), in
 * order. A supergraph without them, or one naming a subgraph without a URL, is refused with what is
 * missing: a gateway cannot route to a subgraph it cannot call.
 */
export function graphsOfSupergraph(supergraphSdl: string): SubgraphAddress[] {
  let doc;
  try {
    doc = parse(supergraphSdl, { noLocation: true });
  } catch (e) {
    throw new Error(`the supergraph does not parse: ${(e as Error).message}`);
  }
  const graphEnum = doc.definitions.find((d): d is EnumTypeDefinitionNode => d.kind === Kind.ENUM_TYPE_DEFINITION && d.name.value === 'join__Graph');
  if (!graphEnum) throw new Error('the supergraph has no join__Graph enum: it is not a Federation supergraph (compose it with rover, hive or `npm run schema:generate`)');
  return (graphEnum.values ?? []).map((v) => {
    const d = v.directives?.find((x) => x.name.value === 'join__graph');
    const name = (d && stringArg(d, 'name')) ?? v.name.value.toLowerCase();
    const url = d && stringArg(d, 'url');
    if (!url) throw new Error(`the supergraph names subgraph "${name}" without a URL (join__graph(url:)): the gateway cannot call it`);
    return { name, url };
  });
}

/**
 * A supergraph from a file path or an http(s) URL (for example a schema registry's CDN), as text.
 * Errors name the source and what went wrong.
 */
export async function readSupergraph(source: string, timeoutMs = 10_000): Promise<string> {
  if (/^https?:\/\//.test(source)) {
    let res: Response;
    try {
      res = await fetch(source, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      throw new Error(`the supergraph at ${source} could not be fetched: ${(e as Error).message}`);
    }
    if (!res.ok) throw new Error(`the supergraph at ${source} answered HTTP ${res.status}`);
    return res.text();
  }
  try {
    return await readFile(source, 'utf8');
  } catch (e) {
    throw new Error(`the supergraph file ${source} cannot be read: ${(e as Error).message}`);
  }
}

/**
 * A subgraph's SDL (`{ _service { sdl } }`), asked as the system principal through the subgraph's own
 * sender (signed or with a token); errors name the subgraph (the log is the operator's: the URL too).
 */
export async function fetchSdl(s: { name: string; url: string; send: (input: string, init?: RequestInit) => Promise<Response> }, timeoutMs = 10_000): Promise<string> {
  let body: { data?: { _service?: { sdl?: string } }; errors?: { message: string }[] };
  try {
    const query = JSON.stringify({ query: '{ _service { sdl } }' });
    const res = await s.send(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [PRINCIPAL_HEADER]: encodePrincipal(SYSTEM) },
      body: query,
      signal: AbortSignal.timeout(timeoutMs),
    });
    body = (await res.json()) as typeof body;
  } catch (e) {
    throw new Error(`subgraph "${s.name}" at ${s.url} did not answer with its SDL: ${(e as Error).message}`);
  }
  const sdl = body.data?._service?.sdl;
  if (!sdl) throw new Error(`subgraph "${s.name}" at ${s.url} did not return its SDL: ${body.errors?.map((e) => e.message).join('; ') ?? 'no _service field'}`);
  return sdl;
}
