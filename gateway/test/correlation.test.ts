import { describe, expect, it } from 'vitest';
import { TEST_SECRET, testAuth } from '@objectos/testkit';
import { createDataSubgraph } from '@objectos/data-subgraph';
import { createLogger } from '@objectos/observability';
import { createGateway } from '../src/index.ts';
import { METADATA } from './stack.ts';

interface LogLine { service: string; level: number; requestId?: string; msg: string; err?: { message: string; stack?: string } }

describe('errors are masked for clients and correlated with the server log', () => {
  it('answers an internal failure with "Unexpected error." and a request id that the subgraph log line also carries', async () => {
    const lines: LogLine[] = [];
    const sink = { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) };
    const data = await createDataSubgraph({ secret: TEST_SECRET, metadata: METADATA, logger: createLogger('data', sink) });
    const gateway = await createGateway({ auth: testAuth(), subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: data.sdl, fetch: data.fetch }], logger: createLogger('gateway', sink) });
    await data.database.close(); // every query now fails inside the data subgraph

    const res = await gateway.fetch(new Request('http://objectos.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'client-req-0001' },
      body: JSON.stringify({ query: '{ accounts { totalCount } }' }),
    }));
    expect(res.headers.get('x-request-id')).toBe('client-req-0001');
    const body = (await res.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
    expect(body.errors[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'client-req-0001' } });
    expect(JSON.stringify(body)).not.toMatch(/PGlite|closed|at .*\.ts:|select /i);

    const logged = lines.find((l) => l.service === 'data' && l.requestId === 'client-req-0001');
    expect(logged, JSON.stringify(lines)).toMatchObject({ msg: 'unexpected error', level: 50 });
    expect(logged!.err?.message).toMatch(/closed/i);
    expect(logged!.err?.stack).toMatch(/\.ts:\d+/);
  });

  it('gives each request its own id when the client sends none (or an invalid one)', async () => {
    const data = await createDataSubgraph({ secret: TEST_SECRET, metadata: METADATA, logger: createLogger('data', { write: () => {} }) });
    try {
      const gateway = await createGateway({ auth: testAuth(), subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: data.sdl, fetch: data.fetch }], logger: createLogger('gateway', { write: () => {} }) });
      const send = (headers: Record<string, string>) => gateway.fetch(new Request('http://objectos.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: '{ account(id: "x") { id } nope }' }) }));
      const a = await send({});
      const b = await send({ 'x-request-id': 'bad id with spaces\n' });
      const [idA, idB] = [a.headers.get('x-request-id'), b.headers.get('x-request-id')];
      expect(idA).toMatch(/^[0-9a-f-]{36}$/);
      expect(idB).toMatch(/^[0-9a-f-]{36}$/);
      expect(idA).not.toBe(idB);
      const errors = ((await b.json()) as { errors: { extensions: { requestId: string } }[] }).errors;
      expect(errors[0]!.extensions.requestId).toBe(idB);
    } finally {
      await data.dispose();
    }
  });
});
