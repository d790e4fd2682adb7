import { describe, expect, it } from 'vitest';
import { EventQueue } from '../src/events/event-queue.ts';

const take = async <T>(q: AsyncIterator<T>, n: number): Promise<T[]> => {
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const r = await q.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
};

describe('EventQueue: one subscriber\'s events as an async iterator', () => {
  it('gives pushed values in order, to a reader waiting or later', async () => {
    const q = new EventQueue<number>();
    const waiting = q.next();
    q.push(1);
    q.push(2);
    q.push(3);
    expect(await waiting).toEqual({ value: 1, done: false });
    expect(q.size).toBe(2);
    expect(await take(q, 2)).toEqual([2, 3]);
    expect(q.size).toBe(0);
  });

  it('starts at the first read, once', async () => {
    let starts = 0;
    const q = new EventQueue<number>(() => void starts++);
    expect(starts).toBe(0);
    q.push(1);
    await q.next();
    q.push(2);
    await q.next();
    expect(starts).toBe(1);
  });

  it('stopped, gives what was queued, then ends; a push after is dropped', async () => {
    const q = new EventQueue<string>();
    let stops = 0;
    q.onStop(() => void stops++);
    q.push('a');
    q.push('b');
    q.stop();
    q.push('c');
    expect(stops).toBe(1);
    expect(await take(q, 5)).toEqual(['a', 'b']);
    expect(await q.next()).toEqual({ value: undefined, done: true });
  });

  it('stopped with an error, gives what was queued, then that error once, then ends', async () => {
    const q = new EventQueue<string>();
    q.push('LEFT 1');
    q.push('LEFT 2');
    q.stop(new Error('FORBIDDEN'));
    expect(await take(q, 2)).toEqual(['LEFT 1', 'LEFT 2']);
    await expect(q.next()).rejects.toThrow('FORBIDDEN');
    expect(await q.next()).toEqual({ value: undefined, done: true });
  });

  it('a reader waiting when it is stopped gets the end (or the error) at once', async () => {
    const q = new EventQueue<number>();
    const waiting = q.next();
    q.stop(new Error('TIMEOUT'));
    await expect(waiting).rejects.toThrow('TIMEOUT');
    const r = new EventQueue<number>();
    const waitingToo = r.next();
    r.stop();
    expect(await waitingToo).toEqual({ value: undefined, done: true });
  });

  it('the reader leaving (return) drops what waits, ends a pending read and runs the stop callbacks, once', async () => {
    const q = new EventQueue<number>();
    let stops = 0;
    q.onStop(() => void stops++);
    const pending = q.next();
    await q.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    q.push(1);
    expect(q.size).toBe(0);
    await q.return();
    q.stop();
    expect(stops).toBe(1);
    let late = 0;
    q.onStop(() => void late++);
    expect(late, 'a callback added after the end runs at once').toBe(1);
  });

  it('below(n) waits until fewer than n values wait, or the end', async () => {
    const q = new EventQueue<number>();
    for (let i = 0; i < 3; i++) q.push(i);
    let below = false;
    const waited = q.below(2).then(() => (below = true));
    await Promise.resolve();
    expect(below).toBe(false);
    await q.next();
    await q.next();
    await waited;
    expect(q.size).toBe(1);
    for (let i = 0; i < 3; i++) q.push(i);
    const ended = q.below(1);
    q.stop();
    await ended;
  });

  it('keeps order and memory over many values taken as they come', async () => {
    const q = new EventQueue<number>();
    const n = 10_000;
    for (let i = 0; i < n; i++) q.push(i);
    const got: number[] = [];
    for await (const v of q) {
      got.push(v);
      if (got.length === n) break;
    }
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
  });
});
