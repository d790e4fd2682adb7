import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { services } from '@objectos/testkit';
import { createBullQueue } from '../src/index.ts';
import { dropKeys, until } from './backends.ts';

const DAY_MS = 86_400_000;

/** Finished jobs are kept 7 days (completed: the idempotency window) and 28 (dead letters), then removed by the worker. */
describe.skipIf(!services.redis)('BullMQ adapter: retention of finished jobs', () => {
  const prefix = `objectos-test-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(services.redis!);
  const q = createBullQueue({ redisUrl: services.redis!, prefix, lockMs: 2_000 });
  afterAll(async () => {
    await q.stop(1_000);
    redis.disconnect();
    await dropKeys([prefix]);
  });

  it('removes a completed job past 7 days and a dead letter past 28 when later ones finish, keeping younger ones', async () => {
    q.register('keep.job', async (d: { fail?: boolean }) => {
      if (d.fail) throw new Error('refused');
    }, { attempts: 1 });
    await q.start();
    const finished = (id: string, status: 'completed' | 'dead') => until(`job ${id} ${status}`, () => q.getJob(id), (r) => r?.status === status);
    const old = await q.enqueue('keep.job', {}, { key: 'old' });
    const week = await q.enqueue('keep.job', {}, { key: 'week' });
    const oldDead = await q.enqueue('keep.job', { fail: true }, { key: 'old-dead' });
    const youngDead = await q.enqueue('keep.job', { fail: true }, { key: 'young-dead' });
    await Promise.all([finished(old.id, 'completed'), finished(week.id, 'completed'), finished(oldDead.id, 'dead'), finished(youngDead.id, 'dead')]);
    // Backdate their finish (BullMQ orders finished jobs by finish time): 8 and 6 days; 29 and 20 days.
    const now = Date.now();
    await redis.zadd(`${prefix}:keep.job:completed`, now - 8 * DAY_MS, old.id, now - 6 * DAY_MS, week.id);
    await redis.zadd(`${prefix}:keep.job:failed`, now - 29 * DAY_MS, oldDead.id, now - 20 * DAY_MS, youngDead.id);
    const next = await q.enqueue('keep.job', {}, { key: 'next' });
    const nextDead = await q.enqueue('keep.job', { fail: true }, { key: 'next-dead' });
    await Promise.all([finished(next.id, 'completed'), finished(nextDead.id, 'dead')]);
    expect(await q.getJob(old.id)).toBeNull();
    expect(await q.getJob(oldDead.id)).toBeNull();
    expect(await q.getJob(week.id)).toMatchObject({ status: 'completed' });
    expect(await q.getJob(youngDead.id)).toMatchObject({ status: 'dead' });
    // Past the window the key is free again; within it, it is not.
    expect((await q.enqueue('keep.job', {}, { key: 'old' })).created).toBe(true);
    expect((await q.enqueue('keep.job', {}, { key: 'week' })).created).toBe(false);
  });
});
