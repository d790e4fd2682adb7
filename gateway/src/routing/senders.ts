import { PRINCIPAL_HEADER, audienceKey, isInternalAudience, signInit, signRequest, type SubgraphTokenIssuer } from '@objectos/principal';
import type { SubgraphAddress } from './supergraph.ts';

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;
/** As {@link FetchFn}, with a server context for an in-process subgraph (ignored by one reached over HTTP). */
export type SendFn = (input: string, init?: RequestInit, serverContext?: Record<string, unknown>) => Promise<Response>;

export interface Sender {
  name: string;
  url: string;
  /** ObjectOS's own subgraph (HMAC under a key derived from the secret) or an external one (a token). */
  internal: boolean;
  /** Sends one call, authenticated for this subgraph alone; the principal is in {@link PRINCIPAL_HEADER}. */
  send: SendFn;
}

/**
 * How the gateway proves who is calling, per subgraph. Every call carries the principal in
 * {@link PRINCIPAL_HEADER} until here, where it is turned into what that subgraph accepts:
 * - internal subgraphs (`data`, `identity`): an HMAC signature for their audience over the method, path
 *   and exact body, with a fresh nonce (sign.ts);
 * - any other subgraph: `Authorization: Bearer <token>`, a short-lived EdDSA JWT naming that subgraph
 *   as its audience (subgraph-token.ts), and no principal header: it shares no secret with ObjectOS,
 *   and nothing it receives is accepted by another subgraph.
 */
export function createSenders(options: { secret: string; tokens: SubgraphTokenIssuer; api: { Request: typeof Request } }) {
  const senders = new Map<string, Sender>();
  return (address: SubgraphAddress): Sender => {
    const id = `${address.name}\n${address.url}`;
    const known = senders.get(id);
    if (known) return known;
    const { name, url } = address;
    const api = options.api;
    const raw: SendFn = address.fetch ? (input, init, context) => address.fetch!(new api.Request(input, init), context) : (input, init) => fetch(input, init);
    let send: SendFn;
    if (isInternalAudience(name)) {
      const key = audienceKey(options.secret, name);
      send = async (input, init = {}, context) => {
        const signed = signInit(input, init, key, name);
        return signed ? raw(input, signed, context) : raw(input, await signRequest(new Request(input, init), key, name), context);
      };
    } else {
      send = async (input, init = {}) => {
        const headers = new Headers(init.headers);
        const payload = headers.get(PRINCIPAL_HEADER);
        if (!payload) throw new Error(`a call to subgraph "${name}" has no principal`);
        headers.delete(PRINCIPAL_HEADER);
        headers.set('authorization', `Bearer ${await options.tokens.tokenForPayload(payload, name)}`);
        return raw(input, { ...init, headers });
      };
    }
    const sender: Sender = { name, url, internal: isInternalAudience(name), send };
    senders.set(id, sender);
    return sender;
  };
}
