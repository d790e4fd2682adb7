import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, instrumentListener, startTracing, type Tracing, type TracingOptions } from '@objectos/observability';
import { startRulesApp, until, type RulesApp } from './rules-app.ts';

/**
 * One trace per request, across everything the request sets off, in one process (embedded PGlite). Tracing
 * is once per process (a global provider): this file has it to itself. Spans are collected as they end by
 * a span processor of the test's own (the SDK's SimpleSpanProcessor over an in-memory exporter, in effect).
 */
type Processor = NonNullable<TracingOptions['spanProcessors']>[number];
type Finished = Parameters<Processor['onEnd']>[0];

const ended: Finished[] = [];
const collector: Processor = {
  onStart: () => {},
  onEnd: (span) => void ended.push(span),
  forceFlush: async () => {},
  shutdown: async () => {},
};

const idOf = (s: Finished) => s.spanContext().spanId;
const traceOf = (s: Finished) => s.spanContext().traceId;
const parentOf = (s: Finished) => s.parentSpanContext?.spanId;
/** The span's ancestors within `spans`, nearest first. */
function ancestors(s: Finished, spans: readonly Finished[]): Finished[] {
  const byId = new Map(spans.map((x) => [idOf(x), x]));
  const out: Finished[] = [];
  for (let p = byId.get(parentOf(s) ?? ''); p; p = byId.get(parentOf(p) ?? '')) out.push(p);
  return out;
}

let tracing: Tracing | null;
beforeAll(async () => {
  tracing = await startTracing({ serviceName: 'objectos-test', spanProcessors: [collector] });
});
afterAll(async () => {
  await tracing?.shutdown();
});

describe('a write traced end to end (embedded)', () => {
  let rig: RulesApp;
  let opportunityId: string;
  beforeAll(async () => {
    rig = await startRulesApp({ engine: 'pglite', slug: 'tracing' });
    const accountId = (await rig.q<{ createAccount: { id: string } }>('mutation { createAccount(input: { name: "Traced Inc" }) { id } }')).createAccount.id;
    opportunityId = (await rig.q<{ createOpportunity: { id: string } }>('mutation($i: OpportunityCreateInput!) { createOpportunity(input: $i) { id } }',
      { i: { name: 'Secret Deal 7731', accountId, stage: 'prospecting', probability: 10 } })).createOpportunity.id;
    await rig.settle();
  }, 120_000);
  afterAll(() => rig?.close());

  it('one trace: server span → subgraph call → SQL → outbox publish → rule evaluation → job, with the request id on the server span', async () => {
    const res = await fetch(`${rig.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${rig.owner}`, 'x-request-id': 'trace-test-request-0001' },
      body: JSON.stringify({ query: 'mutation($id: ID!) { updateOpportunity(id: $id, input: { stage: closed_won }) { id } }', variables: { id: opportunityId } }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { errors?: unknown }).errors).toBeUndefined();
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toBe('trace-test-request-0001');
    // The rule's two actions ran (their jobs finished), and everything handed over was moved on.
    await until(
      () => rig.q<{ automationRuns: { status: string }[] }>('query($id: ID!) { automationRuns(where: { recordId: $id }) { status } }', { id: opportunityId }),
      (r) => r.automationRuns.length === 2 && r.automationRuns.every((x) => x.status === 'SUCCEEDED'),
    );
    await rig.settle();
    await rig.app.audit?.capture.drain();
    await tracing!.flush();

    const server = ended.find((s) => s.attributes['objectos.request_id'] === requestId);
    expect(server, 'the server span of the request').toBeDefined();
    expect(server!.kind).toBe(1); // SERVER
    expect(server!.name).toBe('POST /graphql');
    expect(server!.parentSpanContext).toBeUndefined();
    const trace = ended.filter((s) => traceOf(s) === traceOf(server!));
    const named = (name: string) => trace.filter((s) => s.name === name);
    const under = (s: Finished, ancestor: Finished) => ancestors(s, trace).includes(ancestor);

    // Gateway → data subgraph: a client span under the server span.
    const call = named('subgraph data');
    expect(call.length).toBeGreaterThanOrEqual(1);
    expect(call.every((c) => c.kind === 2 && under(c, server!))).toBe(true); // CLIENT
    // The write's statements, under that call: kind only, never text or values.
    const writes = trace.filter((s) => s.name.startsWith('sql ') && call.some((c) => under(s, c)));
    expect(writes.map((s) => s.name)).toEqual(expect.arrayContaining(['sql begin', 'sql update', 'sql insert', 'sql commit']));
    for (const s of writes) expect(s.attributes).toMatchObject({ 'db.system': 'postgresql', 'objectos.db.engine': 'pglite', 'db.operation.name': s.name.slice(4) });
    // The relay published the change in the request's trace (a child of what wrote its outbox row; the
    // changes the rule's actions make are published further down, under their jobs).
    const [publish, ...morePublishes] = trace.filter((s) => s.name === 'outbox publish' && s.attributes['objectos.outbox'] === 'outbox' && call.some((c) => under(s, c))
      && !ancestors(s, trace).some((a) => a.name.startsWith('job ')));
    expect(publish, 'the outbox publish of the change').toBeDefined();
    expect(morePublishes).toEqual([]);
    expect(publish!.kind).toBe(3); // PRODUCER
    expect(trace.some((s) => s.name.startsWith('sql ') && parentOf(s) === idOf(publish!))).toBe(true);
    // The rule engine evaluated the change as a child of the publish, and queued the rule's two action jobs under that.
    const evaluation = named('automation evaluate').filter((s) => parentOf(s) === idOf(publish!));
    expect(evaluation).toHaveLength(1);
    const jobs = named('job automation.action');
    expect(jobs).toHaveLength(2);
    for (const job of jobs) {
      expect(parentOf(job)).toBe(idOf(evaluation[0]!));
      expect(job.kind).toBe(4); // CONSUMER
      expect(job.status.code).not.toBe(2);
    }
    // The field update's write path (through the data subgraph) is part of its job's subtree.
    expect(trace.some((s) => s.name === 'sql update' && jobs.some((j) => under(s, j)))).toBe(true);
    // The audit trail stored the change's event continuing the same trace (or linked to it when its batch began with another's).
    const audit = ended.filter((s) => s.name === 'outbox publish' && s.attributes['objectos.outbox'] === 'audit_outbox');
    expect(audit.some((s) => (traceOf(s) === traceOf(server!) && under(s, publish!)) || s.links.some((l) => l.context.traceId === traceOf(server!)))).toBe(true);

    // Nothing recorded carries a record's values (the opportunity's name) or a token.
    const everything = JSON.stringify(trace.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })));
    expect(everything).not.toContain('Secret Deal 7731');
    expect(everything).not.toContain(rig.owner);
  });
});

describe('log lines written while serving a request', () => {
  it('carry the request id and the trace and span ids of the request', async () => {
    const lines: Array<{ msg: string; requestId?: string; traceId?: string; spanId?: string }> = [];
    const log = createLogger('unit', { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
    const yoga = createYoga({ schema: createSchema({ typeDefs: 'type Query { hello: String }', resolvers: { Query: { hello: () => (log.info('resolving hello'), 'hi') } } }) });
    const server = createServer(instrumentListener('unit', yoga));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const requestId = 'log-test-request-0001';
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': requestId }, body: JSON.stringify({ query: '{ hello }' }),
      });
      expect(await res.json()).toEqual({ data: { hello: 'hi' } });
      await tracing!.flush();
      const span = ended.find((s) => s.attributes['objectos.service'] === 'unit' && s.attributes['objectos.request_id'] === requestId);
      expect(span, 'the server span of the request').toBeDefined();
      expect(lines.find((l) => l.msg === 'resolving hello')).toMatchObject({ requestId, traceId: traceOf(span!), spanId: idOf(span!) });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
