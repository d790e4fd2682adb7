import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, type Client, type FormattedExecutionResult as ExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import type { Engine } from '@objectos/testkit';
import { attachRealtime, type Realtime, type RealtimeOptions } from '../src/realtime/ws-server.ts';
import { startSecureStack, type SecureStack } from './secure-stack.ts';

export interface RealtimeStack extends SecureStack {
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  /** ws://127.0.0.1:<port>/graphql */
  wsUrl: string;
  realtime: Realtime;
  /** A graphql-ws client (no retries: tests see every close). */
  client(connectionParams: Record<string, unknown>, extra?: { onClose?: (code: number, reason: string) => void }): Client;
}

/** The secure stack behind a real HTTP server on loopback, with graphql-ws attached as `npm start` attaches it. */
export async function startRealtimeStack(engine: Engine, options: Parameters<typeof startSecureStack>[1] & { realtime?: RealtimeOptions } = {}): Promise<RealtimeStack> {
  const stack = await startSecureStack(engine, options);
  const server: Server = createServer(stack.gateway.yoga);
  const realtime = attachRealtime(server, stack.gateway, options.realtime);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const clients: Client[] = [];
  return {
    ...stack,
    url: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    realtime,
    client(connectionParams, extra = {}) {
      const c = createClient({
        url: `ws://127.0.0.1:${port}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams,
        retryAttempts: 0,
        lazy: true,
        on: { closed: (e) => extra.onClose?.((e as { code: number }).code, String((e as { reason?: unknown }).reason ?? '')) },
      });
      clients.push(c);
      return c;
    },
    async close() {
      await Promise.all(clients.map((c) => c.dispose()));
      await realtime.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await stack.close();
    },
  };
}

/** Collects a subscription's results; `next(n)` waits until n have arrived (bounded). */
export function collect<T = Record<string, unknown>>(client: Client, query: string, variables?: Record<string, unknown>) {
  const results: ExecutionResult<T, unknown>[] = [];
  let error: unknown = null;
  let completed = false;
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  const stop = client.subscribe<T>({ query, ...(variables ? { variables } : {}) }, {
    next: (r) => {
      results.push(r);
      wake();
    },
    error: (e) => {
      error = e;
      wake();
    },
    complete: () => {
      completed = true;
      wake();
    },
  });
  return {
    results,
    get error() {
      return error;
    },
    get completed() {
      return completed;
    },
    stop,
    /** Resolves when `n` results arrived, or the operation ended; rejects after `ms`. */
    async until(n: number, ms = 10_000): Promise<ExecutionResult<T, unknown>[]> {
      const deadline = Date.now() + ms;
      while (results.length < n && !completed && error === null) {
        if (Date.now() > deadline) throw new Error(`waited ${ms} ms for ${n} results, got ${results.length}: ${JSON.stringify(results)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
      return results;
    },
  };
}
