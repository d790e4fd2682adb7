import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, parse, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { CloseCode, handleProtocols, makeServer, type ServerOptions, type SubscribePayload } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { API_KEY_HEADER, credentialsOf, type Credentials, type Principal } from '@objectos/principal';
import { handoff, isDataOnly, metrics, type Logger } from '@objectos/observability';
import type { Gateway } from '../create-gateway.ts';
import type { Watched } from '../auth/access-watch.ts';
import { recordAuthentication } from '../auth/auth-metrics.ts';
import { handedStream, resultStream, type ResultStream } from './sse-stream.ts';
import { WS_CONTEXT } from './stream-count.ts';

export interface RealtimeOptions {
  /** Operations running at once on one socket. @default 50 */
  maxOperationsPerSocket?: number;
  /** Close sockets that sent no connection_init in time (4408). @default 3000 */
  connectionInitWaitTimeoutMs?: number;
  /** Server ping interval; a socket that does not answer in as long is dropped. @default 12000 */
  keepAliveMs?: number;
  /** Largest WebSocket message. @default the gateway's body limit + 64 KiB */
  maxPayloadBytes?: number;
  logger?: Logger;
}

export interface Realtime {
  /** Open sockets. */
  sockets(): number;
  /** Closes every socket (1001) and stops accepting new ones. */
  close(): Promise<void>;
}

interface SocketState {
  credentials: Credentials;
  /** The socket's hold on its principal's access (gateway.access): lost, the socket closes with 4403. */
  watched: Watched | null;
}

// graphql-ws decides between execute and subscribe from the document; every operation here is a stream of yoga results.
const STREAM_DOCUMENT = parse('subscription ObjectOSStream { __typename }');

/** The close reason is limited to 123 bytes by the protocol. */
const reason = (text: string): string => (Buffer.byteLength(text) <= 123 ? text : `${Buffer.from(text).subarray(0, 119).toString()}...`);

function credentialsFrom(params: Record<string, unknown> | undefined, request: IncomingMessage): Credentials | null {
  const headers = new Headers();
  // A browser's session cookie comes with the upgrade; tokens and keys come in connectionParams.
  if (typeof request.headers.cookie === 'string') headers.set('cookie', request.headers.cookie);
  for (const [k, v] of Object.entries(params ?? {})) {
    const name = k.toLowerCase();
    if (name !== 'authorization' && name !== API_KEY_HEADER) continue;
    if (typeof v !== 'string' || v.length > 4096) return null;
    headers.set(name, v);
  }
  return credentialsOf(headers);
}

type ErrorBody = { errors?: { message?: string; extensions?: Record<string, unknown> }[] };

/** The errors of a refused operation, as a graphql-ws `error` message carries them. */
function errorsOf(body: ErrorBody, status: number, retryAfter: string | null): GraphQLError[] {
  return (body.errors ?? [{ message: `Request refused (HTTP ${status})`, extensions: { code: 'BAD_REQUEST' } }]).map(
    (e) => new GraphQLError(e.message ?? 'Request refused', { extensions: { ...e.extensions, ...(retryAfter ? { retryAfter: Number(retryAfter) } : {}) } }),
  );
}

/** A yoga refusal (401, 413, 429, a JSON error body…) as the errors of a graphql-ws `error` message. */
async function refusal(response: Response): Promise<GraphQLError[]> {
  let body: ErrorBody = {};
  try {
    // With `Accept: text/event-stream`, yoga sends some refusals (413 body too large, 400) as one SSE event.
    if ((response.headers.get('content-type') ?? '').includes('text/event-stream')) {
      const stream = resultStream(response, () => {});
      body = ((await stream.next()).value ?? {}) as ErrorBody;
      await stream.return();
    } else body = (await response.json()) as ErrorBody;
  } catch {
    // Not JSON: the status says it all.
  }
  return errorsOf(body, response.status, response.headers.get('retry-after'));
}

/**
 * graphql-ws on the gateway's endpoint. Every operation received on a socket is run as an HTTP request
 * through the same yoga instance (same authentication, rate limits, limits, trusted documents, field
 * access, masking and correlation ids), so HTTP and WebSocket always reach the same verdict; results
 * come back as a stream (text/event-stream) and go out as `next` messages.
 */
export function attachRealtime(server: Server, gateway: Gateway, options: RealtimeOptions = {}): Realtime {
  const {
    maxOperationsPerSocket = 50, connectionInitWaitTimeoutMs = 3_000, keepAliveMs = 12_000,
    maxPayloadBytes = gateway.limits.maxBodyBytes + 65_536, logger,
  } = options;
  const endpoint = gateway.graphqlEndpoint;
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxPayloadBytes });
  const states = new Map<WebSocket, SocketState>();

  const refuseUpgrade = (socket: Duplex, status: string) => {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path !== endpoint) return refuseUpgrade(socket, '404 Not Found');
    // CORS does not cover the upgrade: the gateway's one origin policy is checked here (cross-site
    // WebSocket hijacking). Clients that send no Origin (servers, CLIs) are not browsers.
    const origin = request.headers.origin;
    if (origin !== undefined && !gateway.origins.allows(origin, request.headers.host)) return refuseUpgrade(socket, '403 Forbidden');
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  };
  server.on('upgrade', onUpgrade);

  const close = (ws: WebSocket, code: number, text: string) => {
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason(text));
  };

  // Scraped as gauges while this server runs: its open sockets, and the subscriptions streaming through
  // the gateway (both transports: SSE streams do not pass here, but are served by the same server).
  const unmeasure = [metrics.webSockets.add(() => [{ value: states.size }]), gateway.streams.report()];

  wss.on('connection', (ws: WebSocket) => {
    states.set(ws, { credentials: {}, watched: null });
    ws.once('close', () => {
      states.get(ws)?.watched?.stop();
      states.delete(ws);
    });
  });

  type Extra = { socket: WebSocket; request: IncomingMessage };
  const protocol: ServerOptions<Record<string, unknown>, Extra> = {
    connectionInitWaitTimeout: connectionInitWaitTimeoutMs,
    async onConnect(ctx) {
      const ws = ctx.extra.socket;
      const st = states.get(ws);
      if (!st) return false;
      const credentials = credentialsFrom(ctx.connectionParams, ctx.extra.request);
      if (!credentials) {
        close(ws, CloseCode.Forbidden, 'Forbidden: connectionParams.authorization and x-api-key must be strings');
        return false;
      }
      const r = await gateway.principals.authenticate(credentials);
      recordAuthentication(credentials, r, { bearer: gateway.bearer, allowAnonymous: gateway.allowAnonymous });
      // Closed while authenticating: nothing may be left watching a socket that is gone.
      if (states.get(ws) !== st || ws.readyState !== ws.OPEN) return false;
      if ('failure' in r) {
        close(ws, CloseCode.Forbidden, `Forbidden: ${r.failure.code}: ${r.failure.message}`);
        return false;
      }
      if (r.principal.kind === 'anonymous' && !gateway.allowAnonymous) {
        close(ws, CloseCode.Forbidden, 'Forbidden: sign in first: send connectionParams { authorization: "Bearer <token>" } or { "x-api-key": <key> }');
        return false;
      }
      st.credentials = credentials;
      // Lost access closes the socket. Changed access (role, groups, permission sets) keeps it: each
      // operation on it is held by the same watch through yoga (useLiveAccess), told which records left its
      // view and ended; new ones run with the new access.
      const hold = (principal: Principal, expiresAt: number | undefined): Watched =>
        gateway.access.watch(credentials, principal, expiresAt, (message, changed) => {
          if (changed && states.get(ws) === st) st.watched = hold(changed.principal, changed.expiresAt);
          else close(ws, CloseCode.Forbidden, message.replace('subscribe again', 'reconnect'));
        });
      if (r.principal.kind !== 'anonymous') st.watched = hold(r.principal, r.expiresAt);
      return true;
    },
    async onSubscribe(ctx, _id, payload: SubscribePayload) {
      const running = Object.keys(ctx.subscriptions).length;
      if (running > maxOperationsPerSocket)
        return [new GraphQLError(`At most ${maxOperationsPerSocket} operations can run at once on one socket: complete some first`, { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } })];
      const st = states.get(ctx.extra.socket)!;
      const req = ctx.extra.request;
      // JSON first: a request error (parse, validation, variables) comes back as a 4xx JSON answer and goes
      // out as a graphql-ws `error` message, as PROTOCOL.md asks; a stream (a subscription) still comes as SSE.
      const headers = new Headers({ 'content-type': 'application/json', accept: 'application/graphql-response+json, text/event-stream' });
      for (const [k, v] of Object.entries(st.credentials)) headers.set(k, v);
      for (const name of ['user-agent', 'x-forwarded-for', 'x-request-id']) {
        const v = req.headers[name];
        if (typeof v === 'string') headers.set(name, v);
      }
      const ctrl = new AbortController();
      const body = JSON.stringify(payload);
      // A declared length: the body limit then checks it without re-wrapping the body as a stream.
      headers.set('content-length', String(Buffer.byteLength(body)));
      // A stream's results are handed over as texts (useResultHandoff): no event stream written and read again.
      const handed = handoff();
      const response = await gateway.fetch(
        new Request(`http://${req.headers.host ?? 'localhost'}${endpoint}`, { method: 'POST', headers, body, signal: ctrl.signal }),
        // Counted as a WebSocket operation, not as the HTTP stream it is inside the gateway.
        { req, ...WS_CONTEXT, ...handed.context },
      );
      const texts = handed.taken(response);
      if (texts) {
        const args: ExecutionArgs & { rootValue: { stream: ResultStream } } = { schema: gateway.schema, document: STREAM_DOCUMENT, rootValue: { stream: handedStream(texts, () => ctrl.abort(), readEvent) } };
        return args;
      }
      const type = response.headers.get('content-type') ?? '';
      const streamed = type.includes('text/event-stream');
      // Not a 200: refused before execution (whatever the body's type), a graphql-ws `error` like HTTP's status.
      if (response.status !== 200 || (!streamed && !type.includes('json'))) return refusal(response);
      let stream: ResultStream;
      if (streamed) stream = resultStream(response, () => ctrl.abort(), readEvent);
      else {
        // One JSON result, already complete: without `data` it is a request error (variables that do not
        // coerce, for one, answered 200 by the one-hop path), sent as an `error` message like a 4xx.
        const body = (await response.json().catch(() => null)) as (ExecutionResult & ErrorBody) | null;
        if (!body || typeof body !== 'object') return errorsOf({}, 502, null);
        if (!('data' in body)) return errorsOf(body, 400, null);
        stream = (async function* () {
          yield body;
        })();
      }
      const args: ExecutionArgs & { rootValue: { stream: ResultStream } } = { schema: gateway.schema, document: STREAM_DOCUMENT, rootValue: { stream } };
      return args;
    },
    // Results are yoga's, already serialized (errors masked and coded): sent as they are, a data-only
    // one as its very text (see `spliced`), the rest as parsed.
    onNext: (ctx, _id, _payload, _args, result) => (result instanceof EventText ? spliced.mark(ctx.extra.socket, result.text) : result) as never,
    subscribe: (args) => (args.rootValue as { stream: ResultStream }).stream,
    execute: (args) => (args.rootValue as { stream: ResultStream }).stream,
  };
  serveSockets(wss, makeServer(protocol), keepAliveMs, logger);

  return {
    sockets: () => states.size,
    async close() {
      for (const remove of unmeasure) remove();
      server.off('upgrade', onUpgrade);
      for (const ws of states.keys()) close(ws, 1001, 'Going away');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/**
 * A data-only event's text, held as it came. Not a rawResult: graphql-ws spreads each result before
 * `onNext` sees it (`{ errors, ...rest }`), which would parse a rawResult's lazy `data` per subscriber.
 */
class EventText {
  constructor(readonly text: string) {}
}
/** An event of the gateway's stream: data-only text stays text (it is sent as it came), the rest is parsed. */
const readEvent = (text: string): ExecutionResult => (isDataOnly(text) ? (new EventText(text) as ExecutionResult) : (JSON.parse(text) as ExecutionResult));

/**
 * A `next` whose payload is text already (an event the subgraph serialized once for a whole group):
 * graphql-ws is handed a marker as the payload, and the socket's `send` puts the text in its place, so
 * the event is neither parsed nor serialized again per subscriber. Markers are numbered per socket.
 */
const spliced = (() => {
  const texts = new WeakMap<WebSocket, Map<number, string>>();
  let next = 0;
  const TAIL = /,"payload":\{"objectosRaw":(\d+)\}\}$/;
  return {
    mark(socket: WebSocket, text: string): { objectosRaw: number } {
      let mine = texts.get(socket);
      if (!mine) texts.set(socket, (mine = new Map()));
      const n = next++;
      mine.set(n, text);
      return { objectosRaw: n };
    },
    take(socket: WebSocket, message: string): string {
      const m = message.endsWith('}}') ? TAIL.exec(message) : null;
      const text = m ? texts.get(socket)?.get(Number(m[1])) : undefined;
      if (text === undefined) return message;
      texts.get(socket)!.delete(Number(m![1]));
      return `${message.slice(0, m!.index)},"payload":${text}}`;
    },
  };
})();

/**
 * graphql-ws's `ws` adapter (graphql-ws/use/ws), with one difference: a protocol error on a socket (an
 * oversized frame, invalid UTF-8) is a client's doing, logged at debug level through pino rather than
 * written to stderr for every bad frame. `ws` closes such a socket itself, with 1009 or 1007.
 */
function serveSockets(wss: WebSocketServer, server: ReturnType<typeof makeServer<Record<string, unknown>, { socket: WebSocket; request: IncomingMessage }>>, keepAliveMs: number, logger?: Logger): void {
  wss.options.handleProtocols = handleProtocols;
  wss.on('error', (err) => logger?.error({ err: err.message }, 'websocket server error'));
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    socket.on('error', (err) => logger?.debug({ err: err.message }, 'websocket protocol error from a client'));
    let pongWait: NodeJS.Timeout | null = null;
    const ping = setInterval(() => {
      if (socket.readyState !== socket.OPEN) return;
      pongWait = setTimeout(() => socket.terminate(), keepAliveMs);
      socket.once('pong', () => {
        if (pongWait) clearTimeout(pongWait);
        pongWait = null;
      });
      socket.ping();
    }, keepAliveMs);
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (message) => new Promise<void>((resolve, reject) => {
          const data = spliced.take(socket, message);
          if (socket.readyState !== socket.OPEN) return resolve();
          socket.send(data, (err) => (err ? reject(err) : resolve()));
        }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) => socket.on('message', async (data) => {
          try {
            await cb(String(data));
          } catch (err) {
            logger?.error({ err: (err as Error).message }, 'websocket message handling failed');
            socket.close(CloseCode.InternalServerError, 'Internal server error');
          }
        }),
      },
      { socket, request },
    );
    socket.once('close', (code, reason) => {
      if (pongWait) clearTimeout(pongWait);
      clearInterval(ping);
      void closed(code, String(reason));
    });
  });
}
