import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { worldArb } from './world.ts';

/**
 * The randomized worlds are what the database holds: the oracles judge a world's manual shares, and
 * security.record_share keeps one row per record and recipient (a second grant re-levels it). A world
 * with two shares of one pair at different levels made the security oracle expect an edit the stored
 * (last) read share did not allow: a wrong "wrong denial" in CI.
 */
describe('randomized security worlds', () => {
  it('hold at most one manual share per record and recipient', () => {
    let shares = 0;
    for (const w of fc.sample(worldArb({ restrictLookups: true }), { numRuns: 500, seed: 20261203 })) {
      const keys = w.shares.map((s) => JSON.stringify([s.object, s.record, s.to.type, s.to.value]));
      expect(new Set(keys).size, JSON.stringify(w.shares)).toBe(keys.length);
      shares += keys.length;
    }
    expect(shares).toBeGreaterThan(500); // not vacuous: worlds do hold shares
  });
});
