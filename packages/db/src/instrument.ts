import type { PGlite, Transaction } from '@electric-sql/pglite';
import type pg from 'pg';
import { metricsEnabled, poolConnections, sqlDuration, statementKind } from '@objectos/observability/metrics';
import { endSpan, SpanKind, tracer, tracingHere } from '@objectos/observability/tracing';

export type Engine = 'pg' | 'pglite';

/**
 * Every statement ObjectOS sends goes through here: a `sql <kind>` span (only as a child of a span that
 * records: a request, a job, an outbox publish; background polls make no root spans) and its duration in
 * `objectos_sql_statement_duration_seconds`. Neither carries the statement's text or parameters, only its
 * kind (its first keyword). With tracing off and metrics off this is two checks and the call itself.
 */
export function timedStatement<T>(engine: Engine, text: string, run: () => Promise<T>): Promise<T> {
  if (!tracingHere() && !metricsEnabled()) return run();
  const finish = startStatement(engine, statementKind(text));
  return run().then(
    (r) => (finish(), r),
    (e: unknown) => {
      finish(e);
      throw e;
    },
  );
}

/** Starts timing (and tracing, under a recording span) one statement of `kind`; the returned function ends it, failed when given an error. */
function startStatement(engine: Engine, kind: string): (error?: unknown) => void {
  const measured = metricsEnabled();
  const span = tracingHere()
    ? tracer.startSpan(`sql ${kind}`, { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql', 'db.system.name': 'postgresql', 'db.operation.name': kind, 'objectos.db.engine': engine } })
    : null;
  const started = measured ? performance.now() : 0;
  return (e?: unknown) => {
    if (measured) sqlDuration.observe({ engine, kind, outcome: e === undefined ? 'ok' : 'error' }, (performance.now() - started) / 1000);
    if (!span) return;
    // The SQLSTATE, not the message: PostgreSQL's messages can quote a parameter.
    const code = (e as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string') span.setAttribute('db.response.status_code', code);
    endSpan(span, e, true);
  };
}

type QueryArgs = [text: string | { text: string }, ...rest: unknown[]];
const textOf = (q: QueryArgs[0]): string => (typeof q === 'string' ? q : (q?.text ?? ''));

/**
 * The pool as drizzle and `Database.run` see it: `query` on the pool and on every client checked out of
 * it (drizzle's transactions) is timed. A Proxy, so drizzle still sees a `pg.Pool` (it checks), and the
 * pool's own internal calls (its `query` checks out a client and queries it) are made on the real objects:
 * a statement is counted once. Callback-style calls pass through untimed (nothing here makes them).
 */
export function instrumentPool(pool: pg.Pool): pg.Pool {
  const timedQuery = (target: { query: (...a: QueryArgs) => unknown }) => (...args: QueryArgs) =>
    typeof args[args.length - 1] === 'function' ? target.query(...args) : timedStatement('pg', textOf(args[0]), () => target.query(...args) as Promise<unknown>);
  const clientProxy = (client: pg.PoolClient): pg.PoolClient => {
    const query = timedQuery(client as unknown as { query: (...a: QueryArgs) => unknown });
    return new Proxy(client, { get: (t, k) => (k === 'query' ? query : Reflect.get(t, k, t)) });
  };
  const query = timedQuery(pool as unknown as { query: (...a: QueryArgs) => unknown });
  const connect = (...args: unknown[]) => {
    // With a callback: pg-pool's own use (or a caller's): the real client, untouched.
    if (typeof args[0] === 'function') return (pool.connect as (...a: unknown[]) => unknown)(...args);
    return pool.connect().then(clientProxy);
  };
  return new Proxy(pool, { get: (t, k) => (k === 'query' ? query : k === 'connect' ? connect : Reflect.get(t, k, t)) });
}

/** The pool's connections (total, idle, and callers waiting for one) in `objectos_db_pool_connections`, until the returned removal. */
export function watchPool(pool: pg.Pool): () => void {
  return poolConnections.add(() => [
    { labels: { state: 'total' }, value: pool.totalCount },
    { labels: { state: 'idle' }, value: pool.idleCount },
    { labels: { state: 'waiting' }, value: pool.waitingCount },
  ]);
}

/**
 * The embedded engine as drizzle sees it: `query`, `exec` and the same inside `transaction(tx => …)` are
 * timed. Other members are the engine's own, bound to it (PGlite keeps private fields a Proxy cannot reach).
 */
export function instrumentPglite(client: PGlite): PGlite {
  const tx = (t: Transaction): Transaction =>
    new Proxy(t, {
      get(target, k) {
        if (k === 'query') return (text: string, ...rest: unknown[]) => timedStatement('pglite', text, () => (target.query as (...a: unknown[]) => Promise<unknown>)(text, ...rest));
        if (k === 'exec') return (text: string, ...rest: unknown[]) => timedStatement('pglite', text, () => (target.exec as (...a: unknown[]) => Promise<unknown>)(text, ...rest));
        const v = Reflect.get(target, k, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  const members: Record<PropertyKey, unknown> = {
    query: (text: string, ...rest: unknown[]) => timedStatement('pglite', text, () => (client.query as (...a: unknown[]) => Promise<unknown>).call(client, text, ...rest)),
    exec: (text: string, ...rest: unknown[]) => timedStatement('pglite', text, () => (client.exec as (...a: unknown[]) => Promise<unknown>).call(client, text, ...rest)),
    transaction: <T>(fn: (t: Transaction) => Promise<T>) => transaction(client, (t) => fn(tx(t))),
  };
  return new Proxy(client, {
    get(target, k) {
      if (Object.hasOwn(members, k)) return members[k];
      const v = Reflect.get(target, k, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * PGlite's transaction issues its BEGIN and COMMIT (or ROLLBACK) itself, out of reach: they are timed
 * around the callback instead. `begin` runs from the call to the callback (the engine's exclusive lock, then
 * BEGIN: waiting for the one connection is what contention costs here), `commit`/`rollback` from the
 * callback's end to the transaction's, so both engines report the same kinds of statement.
 */
async function transaction<T>(client: PGlite, body: (t: Transaction) => Promise<T>): Promise<T> {
  if (!tracingHere() && !metricsEnabled()) return client.transaction(body);
  let phase: 'begin' | 'body' | 'commit' | 'rollback' = 'begin';
  let finish = startStatement('pglite', 'begin');
  try {
    const result = await client.transaction(async (t) => {
      finish();
      phase = 'body';
      try {
        const r = await body(t);
        phase = 'commit';
        finish = startStatement('pglite', 'commit');
        return r;
      } catch (e) {
        phase = 'rollback';
        finish = startStatement('pglite', 'rollback');
        throw e;
      }
    });
    finish();
    return result;
  } catch (e) {
    // A failed BEGIN or COMMIT failed its statement; a rollback after a failing body did its job.
    if (phase === 'begin' || phase === 'commit') finish(e);
    else if (phase === 'rollback') finish();
    throw e;
  }
}
