import { describe, expect, it } from 'vitest';
import { groupCalls } from '../src/group-calls.ts';

describe('groupCalls', () => {
  it('calls within one turn go out as one flush, each caller gets its own result; the next turn flushes again', async () => {
    const flushes: number[][] = [];
    const double = groupCalls(async (xs: number[]) => {
      flushes.push([...xs]);
      return xs.map((x) => x * 2);
    });
    expect(await Promise.all([double(1), double(2), double(3)])).toEqual([2, 4, 6]);
    expect(await double(5)).toBe(10);
    expect(flushes).toEqual([[1, 2, 3], [5]]);
  });

  it('calls made while a flush runs wait for it and go out together in the next one, never two flushes at once', async () => {
    const flushes: string[][] = [];
    let running = 0;
    let most = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const f = groupCalls(async (xs: string[]) => {
      most = Math.max(most, ++running);
      flushes.push([...xs]);
      if (xs[0] === 'a') await gate;
      running--;
      return xs;
    });
    const first = f('a');
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    // The first flush is running (held at the gate): these come one turn apart, and all go in the next flush.
    const later = [f('b')];
    await new Promise((r) => setImmediate(r));
    later.push(f('c'));
    await new Promise((r) => setImmediate(r));
    later.push(f('d'));
    expect(flushes).toEqual([['a']]);
    release();
    expect(await Promise.all([first, ...later])).toEqual(['a', 'b', 'c', 'd']);
    expect(flushes).toEqual([['a'], ['b', 'c', 'd']]);
    expect(most).toBe(1);
  });

  it('with gatherMs, calls some turns apart within that time go out together', async () => {
    const flushes: number[][] = [];
    const f = groupCalls(async (xs: number[]) => (flushes.push([...xs]), xs), { gatherMs: 30 });
    const calls = [f(1)];
    await new Promise((r) => setTimeout(r, 5));
    calls.push(f(2));
    await new Promise((r) => setTimeout(r, 5));
    calls.push(f(3));
    expect(await Promise.all(calls)).toEqual([1, 2, 3]);
    expect(flushes).toEqual([[1, 2, 3]]);
  });

  it('a failing flush rejects every caller in it, and the next flush is not affected', async () => {
    let fail = true;
    const f = groupCalls(async (xs: string[]) => {
      if (fail) throw new Error('database down');
      return xs.map((x) => x.toUpperCase());
    });
    const results = await Promise.allSettled([f('a'), f('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await f('c')).toBe('C');
  });
});
