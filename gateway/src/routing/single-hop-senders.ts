import { STREAM_HEADER, SUBSCRIPTION_ACCESS_ENDPOINT, type Principal } from '@objectos/principal';
import type { Sender } from './senders.ts';
import { byStatus, subgraphCall } from './subgraph-call.ts';
import type { RequestContext, SubgraphCall, SubgraphFarewell, SubgraphStream } from './use-single-hop.ts';

interface Options {
  /** The subgraph of that name as the gateway serves it now (the supergraph may be recomposed). */
  sender(name: string): Sender;
  /** What a request carries to every subgraph: its principal (signed by `send`), request id, client. */
  headers(context?: RequestContext): Record<string, string>;
  timeoutMs: number;
}

/**
 * How the one hop reaches a subgraph: a call (timed, traced, read within its timeout), a subscription
 * (no timeout, as on the stitched path: it lasts as long as its client stays; named by a stream id), and
 * the word that a subscription's access changed, sent as the subscriber's new principal.
 */
export function singleHopSenders(o: Options): { call: SubgraphCall; stream: SubgraphStream; farewell: SubgraphFarewell } {
  const send = <T extends { status: number }>(name: string, accept: string, context: RequestContext, request: (to: Sender, headers: Record<string, string>) => Promise<T>) =>
    subgraphCall(name, { 'content-type': 'application/json', accept, ...o.headers(context) }, (sent) => request(o.sender(name), sent), { outcomeOf: (r) => byStatus(r.status) });
  return {
    call: (name, body, context) =>
      send(name, 'application/graphql-response+json, application/json', context, async (to, headers) => {
        const response = await to.send(to.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(o.timeoutMs) });
        return { status: response.status, text: await response.text() };
      }),
    stream: (name, body, context, signal, stream, serverContext) =>
      send(name, 'text/event-stream', context, (to, headers) => to.send(to.url, { method: 'POST', headers: { ...headers, [STREAM_HEADER]: stream }, body, signal }, serverContext)),
    async farewell(name, stream, principal: Principal, delivered) {
      const to = o.sender(name);
      const response = await to.send(new URL(SUBSCRIPTION_ACCESS_ENDPOINT, to.url).href, {
        method: 'POST', headers: { 'content-type': 'application/json', ...o.headers({ principal }) }, body: JSON.stringify({ stream, delivered }), signal: AbortSignal.timeout(o.timeoutMs),
      });
      const answer = (await response.json().catch(() => null)) as { skip?: unknown } | null;
      return response.status === 200 && typeof answer?.skip === 'number' ? answer.skip : null;
    },
  };
}
