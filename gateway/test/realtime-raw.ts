import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { attachRealtime, type Realtime, type RealtimeOptions } from '../src/realtime/ws-server.ts';
import type { SecureStack } from './secure-stack.ts';

/** The graphql-ws subprotocol. */
export const PROTOCOL = 'graphql-transport-ws';

export interface Message { type: string; id?: string; payload?: unknown }
export interface Closed { code: number; reason: string; at: number }

/** A raw `ws` client: every message and the exact close code are visible (graphql-ws's client hides some). */
export interface RawSocket {
  ws: WebSocket;
  messages: Message[];
  /** Resolves when the socket closes (never rejects). */
  closed: Promise<Closed>;
  isOpen(): boolean;
  /** Objects are sent as JSON; strings and buffers as they are (text frames unless `binary`). */
  send(data: unknown, binary?: boolean): void;
  /** The first message (received so far or later) that matches; rejects after `ms`. */
  next(match: (m: Message) => boolean, ms?: number): Promise<Message>;
  /** connection_init with these params, then waits for connection_ack. */
  init(params?: Record<string, unknown>): Promise<void>;
  subscribe(id: string, query: string, variables?: Record<string, unknown>): void;
}

/** Opens a socket; rejects with `HTTP <status>` when the upgrade is refused. */
export function openRaw(url: string, opts: { origin?: string; headers?: Record<string, string>; protocols?: string | string[] } = {}): Promise<RawSocket> {
  const ws = new WebSocket(url, opts.protocols ?? PROTOCOL, { ...(opts.origin ? { origin: opts.origin } : {}), ...(opts.headers ? { headers: opts.headers } : {}), handshakeTimeout: 5_000 });
  const messages: Message[] = [];
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((w) => w());
  let open = false;
  const closed = new Promise<Closed>((resolve) => ws.once('close', (code, reason) => {
    open = false;
    resolve({ code, reason: reason.toString(), at: Date.now() });
    wake();
  }));
  ws.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as Message);
    wake();
  });
  const socket: RawSocket = {
    ws,
    messages,
    closed,
    isOpen: () => open,
    send(data, binary = false) {
      ws.send(typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data), { binary });
    },
    async next(match, ms = 5_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = messages.find(match);
        if (found) return found;
        if (!open) throw new Error(`socket closed before the expected message; got ${JSON.stringify(messages).slice(0, 500)}`);
        if (Date.now() > deadline) throw new Error(`waited ${ms} ms for a message; got ${JSON.stringify(messages).slice(0, 500)}`);
        await new Promise<void>((resolve) => {
          const w = () => {
            waiters.delete(w);
            resolve();
          };
          waiters.add(w);
          setTimeout(w, 50);
        });
      }
    },
    async init(params = {}) {
      socket.send({ type: 'connection_init', payload: params });
      await socket.next((m) => m.type === 'connection_ack');
    },
    subscribe(id, query, variables) {
      socket.send({ type: 'subscribe', id, payload: { query, ...(variables ? { variables } : {}) } });
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      open = true;
      resolve(socket);
    });
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.once('error', (e) => reject(e));
  });
}

/** Waits until `read()` equals `want` (bounded). */
export async function eventually<T>(read: () => T, want: T, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (read() !== want) {
    if (Date.now() > deadline) throw new Error(`waited ${ms} ms for ${String(want)}, still ${String(read())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface Endpoint { wsUrl: string; realtime: Realtime; close(): Promise<void> }

/** Another loopback server for the same gateway, with its own realtime options (cap, timeouts, sizes). */
export async function listen(stack: SecureStack, options: RealtimeOptions): Promise<Endpoint> {
  const server: Server = createServer(stack.gateway.yoga);
  const realtime = attachRealtime(server, stack.gateway, options);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    realtime,
    async close() {
      await realtime.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Tracks raw sockets so a test can close all of them in `finally`/`afterEach`. */
export function sockets() {
  const all: RawSocket[] = [];
  return {
    async open(...args: Parameters<typeof openRaw>): Promise<RawSocket> {
      const s = await openRaw(...args);
      all.push(s);
      return s;
    },
    closeAll() {
      for (const s of all.splice(0)) s.ws.terminate();
    },
  };
}
