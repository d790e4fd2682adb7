import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, REPO_ROOT } from '@objectos/testkit';
import { openRaw, type Message } from './realtime-raw.ts';
import { startRealtimeStack, type RealtimeStack } from './realtime-stack.ts';

/**
 * Trusted documents (persisted operations only) hold on the socket as over HTTP: an operation runs by
 * its codegen hash, a raw document and an unknown hash are refused with the same words on both.
 */
describe('trusted documents over WebSocket and HTTP', () => {
  const persisted = JSON.parse(readFileSync(`${REPO_ROOT}packages/sdk/src/generated/persisted-documents.json`, 'utf8')) as Record<string, string>;
  const hashOf = (prefix: string) => Object.entries(persisted).find(([, text]) => text.startsWith(prefix))![0].replace('sha256:', '');
  let s: RealtimeStack;
  let auth: Record<string, string>;
  beforeAll(async () => {
    s = await startRealtimeStack(engines()[0]!, { protection: { trustedDocuments: persisted } });
    auth = (await s.user('tess@example.com', 'Tessco')).headers;
  }, 60_000);
  afterAll(() => s?.close());

  const overHttp = async (body: Record<string, unknown>) =>
    (await (await fetch(s.url, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()) as { data?: unknown; errors?: { message: string }[] };
  async function overWs(body: Record<string, unknown>, wait: (m: Message) => boolean): Promise<Message> {
    const socket = await openRaw(s.wsUrl);
    try {
      await socket.init({ authorization: auth['authorization'] });
      socket.send({ id: '1', type: 'subscribe', payload: { query: '', ...body } });
      return await socket.next((m) => m.id === '1' && wait(m));
    } finally {
      socket.ws.close();
    }
  }
  const errorsOf = (m: Message) => (m.type === 'error' ? (m.payload as { message: string }[]) : ((m.payload as { errors?: { message: string }[] }).errors ?? [])).map((e) => e.message);

  it('runs a query by its hash on both', async () => {
    const body = { extensions: { persistedQuery: { version: 1, sha256Hash: hashOf('query ListAccounts') } }, variables: { first: 1 } };
    const http = await overHttp(body);
    expect(http.errors).toBeUndefined();
    const ws = await overWs(body, (m) => m.type === 'next' || m.type === 'error');
    expect(ws.type).toBe('next');
    expect((ws.payload as { data: unknown }).data).toEqual(http.data);
  });

  it('subscribes by its hash on the socket', async () => {
    const socket = await openRaw(s.wsUrl);
    try {
      await socket.init({ authorization: auth['authorization'] });
      socket.send({ id: 's', type: 'subscribe', payload: { query: '', extensions: { persistedQuery: { version: 1, sha256Hash: hashOf('subscription AccountChanged') } }, variables: { operations: ['CREATED'] } } });
      const deadline = Date.now() + 15_000;
      while (!socket.messages.some((m) => m.id === 's') && Date.now() < deadline) {
        await overHttp({ extensions: { persistedQuery: { version: 1, sha256Hash: hashOf('mutation CreateAccount') } }, variables: { input: { name: 'Trusted live' } } });
        await new Promise((r) => setTimeout(r, 300));
      }
      const first = await socket.next((m) => m.id === 's');
      expect(first).toMatchObject({ type: 'next', payload: { data: { accountChanged: { op: 'CREATED', record: { name: 'Trusted live' } } } } });
    } finally {
      socket.ws.close();
    }
  });

  it('refuses a raw document and an unknown hash with the same words on both', async () => {
    for (const body of [{ query: '{ accounts { totalCount } }' }, { extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } }]) {
      const http = (await overHttp(body)).errors!.map((e) => e.message);
      const ws = errorsOf(await overWs(body, (m) => m.type === 'next' || m.type === 'error'));
      expect(http).toEqual([expect.stringMatching(/^PersistedQuery(Only|NotFound)$/)]);
      expect(ws).toEqual(http);
    }
  });
});
