import { describe, expect, it } from 'vitest';
import { perTurn } from '../src/per-turn.ts';

describe('perTurn', () => {
  it('calls within one turn go out as one flush, each caller gets its own result; the next turn flushes again', async () => {
    const flushes: number[][] = [];
    const double = perTurn(async (xs: number[]) => {
      flushes.push([...xs]);
      return xs.map((x) => x * 2);
    });
    expect(await Promise.all([double(1), double(2), double(3)])).toEqual([2, 4, 6]);
    expect(await double(5)).toBe(10);
    expect(flushes).toEqual([[1, 2, 3], [5]]);
  });

  it('a failing flush rejects every caller of its turn, and the next turn is not affected', async () => {
    let fail = true;
    const f = perTurn(async (xs: string[]) => {
      if (fail) throw new Error('database down');
      return xs.map((x) => x.toUpperCase());
    });
    const results = await Promise.allSettled([f('a'), f('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await f('c')).toBe('C');
  });
});
