import type { MetadataModel } from '@objectos/metadata';
import { METADATA_ENDPOINT, SYSTEM, audienceKey, signPrincipal } from '@objectos/principal';
import { compile, type CompiledSchema } from '@objectos/schema';

export interface MetadataSource {
  name: string;
  url: string;
  fetch?: (request: Request) => Promise<Response>;
}

/**
 * The ObjectOS metadata a subgraph serves at {@link METADATA_ENDPOINT} (to the signed system principal),
 * compiled into the same data and security plans the subgraph enforces; null when the subgraph has no
 * ObjectOS metadata (any answer other than 200 `{ objectos: 'metadata/1', model }`, or an external
 * subgraph that cannot be reached there). Asked with a signature for this subgraph only (its name is the
 * audience: an external one gets an external key), for this GET and its empty body.
 */
export async function loadSecurity(s: MetadataSource, secret: string, onUnreachable?: (error: Error) => void): Promise<CompiledSchema | null> {
  const url = new URL(METADATA_ENDPOINT, s.url).href;
  const headers = signPrincipal(SYSTEM, audienceKey(secret, s.name), { audience: s.name, method: 'GET', url });
  const init: RequestInit = { method: 'GET', headers, signal: AbortSignal.timeout(10_000) };
  let res: Response;
  try {
    res = s.fetch ? await s.fetch(new Request(url, init)) : await fetch(url, init);
  } catch (e) {
    // An in-process subgraph that fails here is broken, not foreign.
    if (s.fetch) throw new Error(`subgraph "${s.name}" failed to serve ${METADATA_ENDPOINT}: ${(e as Error).message}`);
    onUnreachable?.(e as Error);
    return null;
  }
  if (res.status !== 200 || !(res.headers.get('content-type') ?? '').includes('json')) {
    await res.body?.cancel().catch(() => {});
    return null;
  }
  const body: unknown = await res.json().catch(() => null);
  const b = body as { objectos?: unknown; model?: unknown; namePrefix?: unknown } | null;
  if (!b || b.objectos !== 'metadata/1' || typeof b.model !== 'object' || b.model === null) return null;
  try {
    // Compiled with the subgraph's name prefix: the decisions name the same types and fields it serves.
    return compile(b.model as MetadataModel, typeof b.namePrefix === 'string' ? { namePrefix: b.namePrefix } : {});
  } catch (e) {
    throw new Error(`subgraph "${s.name}" served metadata the gateway cannot compile: ${(e as Error).message}`);
  }
}
