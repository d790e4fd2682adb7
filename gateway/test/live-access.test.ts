import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import { endOnAccessLoss } from '../src/auth/use-live-access.ts';
import type { Changed, Watched } from '../src/auth/access-watch.ts';
import { testPrincipal } from '@objectos/testkit';

// The stream wrapper every live transport goes through (gateway/src/auth/use-live-access.ts), as a unit:
// it ends at once when its watch ends, drops what arrives after, and holds nothing it already delivered.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A source that yields `n` results, then stays open (a live subscription with nothing more to say). */
function source(n: number) {
  let returned = false;
  const it: AsyncIterableIterator<ExecutionResult> = {
    i: 0,
    async next() {
      if (returned) return { value: undefined, done: true };
      if ((this as unknown as { i: number }).i < n) return { value: { data: { n: (this as unknown as { i: number }).i++, pad: 'x'.repeat(200) } }, done: false };
      return new Promise<IteratorResult<ExecutionResult>>(() => {});
    },
    async return() {
      returned = true;
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  } as AsyncIterableIterator<ExecutionResult> & { i: number };
  return { it, returned: () => returned };
}

const open = (ready: () => boolean | Promise<boolean> = () => true) => {
  let end: (message: string, changed?: Changed) => void = () => {};
  let stopped = false;
  const watched: Watched = { ready, stop: () => void (stopped = true) };
  return { start: (e: (m: string, changed?: Changed) => void) => ((end = e), watched), end: (m: string, changed?: Changed) => end(m, changed), stopped: () => stopped };
};

/** A source fed by the test: `push` a result, `finish` it (the subgraph ended the stream). */
function fed() {
  const queue: IteratorResult<ExecutionResult>[] = [];
  let wake: (() => void) | null = null;
  const put = (r: IteratorResult<ExecutionResult>) => (queue.push(r), wake?.());
  const it: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      return queue.shift()!;
    },
    async return() {
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return { it, push: (n: number) => put({ value: { data: { n } }, done: false }), finish: () => put({ value: undefined, done: true }) };
}

describe('endOnAccessLoss', () => {
  it('keeps no delivered result alive while the stream stays open', async () => {
    const { it: src } = source(20_000);
    const w = open();
    const stream = endOnAccessLoss(src, w.start);
    const refs: WeakRef<object>[] = [];
    for (let i = 0; i < 20_000; i++) {
      const r = await stream.next();
      if (i < 200) refs.push(new WeakRef(r.value as object));
    }
    gc();
    await new Promise((r) => setTimeout(r, 10));
    gc();
    expect(refs.filter((r) => r.deref() !== undefined).length, 'delivered results still reachable').toBe(0);
    await stream.return!();
    expect(w.stopped()).toBe(true);
  });

  it('ends a pending read at once with one FORBIDDEN result, then is done, and cancels its source', async () => {
    const { it: src, returned } = source(1);
    const w = open();
    const stream = endOnAccessLoss(src, w.start);
    expect((await stream.next()).value).toMatchObject({ data: { n: 0 } });
    const pending = stream.next();
    w.end('Forbidden: your access changed');
    const last = await pending;
    expect(last.done).toBe(false);
    expect(last.value?.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect((await stream.next()).done).toBe(true);
    expect(returned()).toBe(true);
    expect(w.stopped()).toBe(true);
  });

  it('holds a result while a re-check runs, and drops it when access did not survive', async () => {
    let verdict: (ok: boolean) => void = () => {};
    const { it: src } = source(2);
    const w = open(() => new Promise<boolean>((r) => (verdict = r)));
    const stream = endOnAccessLoss(src, w.start);
    const held = stream.next();
    await new Promise((r) => setTimeout(r, 20));
    w.end('Forbidden: banned');
    verdict(false);
    const r = await held;
    expect(r.value?.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect(JSON.stringify(r.value)).not.toContain('"n"');
    expect((await stream.next()).done).toBe(true);
  });

  it('an access that only changed: what the subgraph sent past the results given is dropped, its LEFT events pass, then FORBIDDEN', async () => {
    let verdict: (ok: boolean) => void = () => {};
    let checking = false;
    const src = fed();
    const w = open(() => (checking ? new Promise<boolean>((r) => (verdict = r)) : true));
    const told: [number, number][] = [];
    const stream = endOnAccessLoss(src.it, w.start, async (principal, delivered) => {
      told.push([principal.roles.length, delivered]);
      // The subgraph had sent 2 past the one given (held here, judged under the old access), then LEFT ones.
      src.push(100);
      src.push(-1);
      src.push(-2);
      src.finish();
      return 2;
    });
    src.push(1);
    expect((await stream.next()).value).toEqual({ data: { n: 1 } });
    // An auth event: the re-check holds what arrives.
    checking = true;
    src.push(2);
    const held = stream.next();
    await new Promise((r) => setTimeout(r, 20));
    w.end('Forbidden: your access changed', { principal: { ...testPrincipal(), roles: [] }, expiresAt: undefined });
    verdict(false);
    const seen: unknown[] = [(await held).value];
    for (let r = await stream.next(); !r.done; r = await stream.next()) seen.push(r.value);
    expect(told).toEqual([[0, 1]]);
    expect(seen.slice(0, 2)).toEqual([{ data: { n: -1 } }, { data: { n: -2 } }]);
    expect((seen[2] as ExecutionResult).errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect(seen).toHaveLength(3);
    expect(w.stopped()).toBe(true);
  });

  it('an access that only changed, and the subgraph could not tell what left: ends as a loss does', async () => {
    const src = fed();
    const w = open();
    const stream = endOnAccessLoss(src.it, w.start, async () => null);
    src.push(1);
    expect((await stream.next()).value).toEqual({ data: { n: 1 } });
    const pending = stream.next();
    w.end('Forbidden: your access changed', { principal: testPrincipal(), expiresAt: undefined });
    expect((await pending).value?.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect((await stream.next()).done).toBe(true);
  });
});
