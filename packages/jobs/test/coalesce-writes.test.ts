import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { services } from '@objectos/testkit';
import { coalesceWrites } from '../src/coalesce-writes.ts';

describe.skipIf(!services.redis)('coalesced Redis writes (Redis)', () => {
  const redis = coalesceWrites(new Redis(services.redis!, { maxRetriesPerRequest: 1 }));
  const key = `objectos-test-coalesce-${randomBytes(4).toString('hex')}`;
  afterAll(async () => {
    await redis.del(key);
    redis.disconnect();
  });

  /** Socket writes made by `redis`'s own socket while `run` runs. */
  async function writesDuring(run: () => Promise<unknown>): Promise<number> {
    const proto = net.Socket.prototype as unknown as { _writeGeneric: (...args: unknown[]) => unknown };
    const original = proto._writeGeneric;
    let writes = 0;
    proto._writeGeneric = function (this: net.Socket, ...args: unknown[]) {
      if (this === redis.stream) writes++;
      return original.apply(this, args);
    };
    try {
      await run();
    } finally {
      proto._writeGeneric = original;
    }
    return writes;
  }

  it('sends the commands of one event-loop turn in one write, in order, each with its own reply', async () => {
    await redis.ping();
    const writes = await writesDuring(async () => {
      const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => redis.rpush(key, String(i))));
      // RPUSH answers the list's length: in order, so 1..200.
      expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    });
    expect(writes).toBe(1);
    expect(await redis.lrange(key, 0, -1)).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
  });

  it('commands of later turns go out in later writes (nothing waits for a next command)', async () => {
    const writes = await writesDuring(async () => {
      for (let i = 0; i < 5; i++) expect(await redis.llen(key)).toBe(200);
    });
    expect(writes).toBe(5);
    // An error reply reaches its own command only.
    const [bad, good] = await Promise.allSettled([redis.incr(key), redis.llen(key)]);
    expect(bad.status).toBe('rejected');
    expect(good).toEqual({ status: 'fulfilled', value: 200 });
  });
});
