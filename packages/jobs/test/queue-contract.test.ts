import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { effectOnce, ensureEffectTable, JobInputError, MAX_PAYLOAD_BYTES, type JobContext, type JobQueue } from '../src/index.ts';
import { backends, until } from './backends.ts';

/** One contract, every adapter: what a caller of `JobQueue` may rely on whichever backend runs. */
for (const backend of backends()) {
  describe(`job queue contract: ${backend.name}`, () => {
    const started: JobQueue[] = [];
    afterAll(async () => {
      await Promise.all(started.map((q) => q.stop(1_000)));
      await backend.cleanup();
    });
    async function open(setup: (q: JobQueue) => void): Promise<JobQueue> {
      const q = await backend.queue();
      setup(q);
      await q.start();
      started.push(q);
      return q;
    }

    it('runs a registered handler with its payload, key, tenant and attempt; the same key enqueues nothing twice', async () => {
      const seen: { data: unknown; ctx: Omit<JobContext, 'signal'> }[] = [];
      const q = await open((q) => q.register('mail.send', async (data, ctx) => void seen.push({ data, ctx: { id: ctx.id, queue: ctx.queue, key: ctx.key, tenant: ctx.tenant, attempt: ctx.attempt } })));
      const first = await q.enqueue('mail.send', { to: 'a@example.com' }, { key: 'evt-1:welcome', tenant: 'org_a' });
      const again = await q.enqueue('mail.send', { to: 'other@example.com' }, { key: 'evt-1:welcome', tenant: 'org_a' });
      expect(first.created).toBe(true);
      expect(again).toEqual({ id: first.id, created: false });
      await until('the job to complete', () => q.getJob(first.id), (r) => r?.status === 'completed');
      await new Promise((r) => setTimeout(r, 300));
      expect(seen).toEqual([{ data: { to: 'a@example.com' }, ctx: { id: first.id, queue: 'mail.send', key: 'evt-1:welcome', tenant: 'org_a', attempt: 1 } }]);
      const run = (await q.getJob(first.id))!;
      expect(run).toMatchObject({ queue: 'mail.send', key: 'evt-1:welcome', tenant: 'org_a', attempts: 1, maxAttempts: 3, error: null, priority: 'normal' });
      expect(run.durationMs).toBeGreaterThanOrEqual(0);
      // A completed job is kept (its key stays used): the same key enqueues nothing after it ran either.
      expect(await q.enqueue('mail.send', {}, { key: 'evt-1:welcome', tenant: 'org_a' })).toEqual({ id: first.id, created: false });
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).toHaveLength(1);
    });

    it('holds a delayed job until its time', async () => {
      const ran: number[] = [];
      const q = await open((q) => q.register('later.job', async () => void ran.push(Date.now())));
      const t0 = Date.now();
      const { id } = await q.enqueue('later.job', {}, { key: 'k', delayMs: 1_500 });
      expect((await q.getJob(id))!.status).toBe('delayed');
      await until('the delayed job to run', async () => ran.length, (n) => n === 1);
      expect(ran[0]! - t0).toBeGreaterThanOrEqual(1_400);
    });

    it('runs waiting jobs by priority, critical first', async () => {
      const order: string[] = [];
      const q = await open((q) => q.register('prio.job', async (d: { p: string }) => void order.push(d.p), { concurrency: 1 }));
      await q.pause('prio.job');
      await new Promise((r) => setTimeout(r, 300));
      for (const p of ['low', 'normal', 'background', 'critical', 'high'] as const) await q.enqueue('prio.job', { p }, { key: p, priority: p });
      expect((await q.counts()).find((c) => c.queue === 'prio.job')).toMatchObject({ paused: true, waiting: 5 });
      await q.resume('prio.job');
      await until('all five to run', async () => order.length, (n) => n === 5);
      expect(order).toEqual(['critical', 'high', 'normal', 'low', 'background']);
    });

    it('retries a failing job with growing (exponential, jittered) delays and completes it', async () => {
      const at: number[] = [];
      const q = await open((q) => q.register('flaky.job', async () => {
        at.push(Date.now());
        if (at.length < 3) throw new Error(`transient failure ${at.length}`);
      }));
      const { id } = await q.enqueue('flaky.job', {}, { key: 'f', attempts: 3, backoffMs: 400 });
      const run = await until('the third attempt to succeed', () => q.getJob(id), (r) => r?.status === 'completed', 20_000);
      expect(run!.attempts).toBe(3);
      const [g1, g2] = [at[1]! - at[0]!, at[2]! - at[1]!];
      // BullMQ: 400·2^(n−1) ms with up to 50 % jitter off; pg-boss: whole seconds, 1–2 s then 2–4 s.
      expect(g1).toBeGreaterThanOrEqual(180);
      expect(g2).toBeGreaterThan(g1 * 0.9);
    });

    it('fails an attempt that outlives its timeout, aborting its signal, and dead-letters it after the last attempt', async () => {
      let aborted = 0;
      const q = await open((q) => q.register('slow.job', (_d, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => (aborted++, resolve(undefined))))));
      const { id } = await q.enqueue('slow.job', {}, { key: 's', attempts: 1, timeoutMs: 300 });
      const run = await until('the job to be dead', () => q.getJob(id), (r) => r?.status === 'dead', 20_000);
      expect(run!.error).toMatch(/timed out after \d+ ms/);
      expect(aborted).toBe(1);
      expect((await q.list({ status: 'dead' })).map((r) => r.id)).toEqual([id]);
    });

    it('replays a dead letter once more, and it completes', async () => {
      let fail = true;
      let calls = 0;
      const q = await open((q) => q.register('dead.job', async () => {
        calls++;
        if (fail) throw new Error('downstream refused');
      }));
      const { id } = await q.enqueue('dead.job', {}, { key: 'd', attempts: 2, backoffMs: 100 });
      const dead = await until('the job to be dead', () => q.getJob(id), (r) => r?.status === 'dead', 20_000);
      expect(dead).toMatchObject({ attempts: 2, maxAttempts: 2, error: 'downstream refused' });
      expect((await q.counts()).find((c) => c.queue === 'dead.job')!.failed).toBe(1);
      expect(await q.retry(id)).toBe(false);
      fail = false;
      expect(await q.replay(id)).toBe(true);
      await until('the replayed job to complete', () => q.getJob(id), (r) => r?.status === 'completed');
      expect(calls).toBe(3);
      expect(await q.replay(id)).toBe(false);
    });

    it('runs a job waiting for its retry at once on retry()', async () => {
      let calls = 0;
      const q = await open((q) => q.register('wait.job', async () => {
        if (++calls === 1) throw new Error('first attempt fails');
      }));
      const { id } = await q.enqueue('wait.job', {}, { key: 'w', attempts: 2, backoffMs: 60_000 });
      await until('the job to wait for its retry', () => q.getJob(id), (r) => r?.status === 'retrying');
      const t0 = Date.now();
      expect(await q.retry(id)).toBe(true);
      await until('the retried job to complete', () => q.getJob(id), (r) => r?.status === 'completed');
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(calls).toBe(2);
    });

    it('cancels a job that has not started; it never runs and its key stays used; a finished job cannot be cancelled', async () => {
      let calls = 0;
      const q = await open((q) => q.register('cancel.job', async () => void calls++));
      const { id } = await q.enqueue('cancel.job', {}, { key: 'c', delayMs: 1_000 });
      expect(await q.cancel(id)).toBe(true);
      expect((await q.getJob(id))!.status).toBe('cancelled');
      expect((await q.enqueue('cancel.job', {}, { key: 'c' })).created).toBe(false);
      const done = await q.enqueue('cancel.job', {}, { key: 'other' });
      await until('the other job to complete', () => q.getJob(done.id), (r) => r?.status === 'completed');
      await new Promise((r) => setTimeout(r, 1_500));
      expect(calls).toBe(1);
      expect(await q.cancel(done.id)).toBe(false);
      expect((await q.list({ status: 'cancelled' })).map((r) => r.id)).toEqual([id]);
    });

    it('refuses an unregistered queue, an oversized payload and bad options, enqueuing nothing', async () => {
      const q = await open((q) => q.register('known.job', async () => {}));
      await expect(q.enqueue('nope.job', {}, { key: 'x' })).rejects.toMatchObject({ code: 'UNKNOWN_QUEUE', message: expect.stringContaining('no handler is registered for queue "nope.job" (known: known.job)') });
      await expect(q.enqueue('known.job', { blob: 'x'.repeat(MAX_PAYLOAD_BYTES) }, { key: 'big' })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
      await expect(q.enqueue('known.job', {}, { key: '' })).rejects.toBeInstanceOf(JobInputError);
      await expect(q.enqueue('known.job', {}, { key: 'a', attempts: 0 })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
      await expect(q.enqueue('known.job', {}, { key: 'p', priority: 'urgent' as never })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
      expect(await q.list()).toEqual([]);
      expect(() => q.register('Bad Name', async () => {})).toThrow(/queue name "Bad Name"/);
    });

    it('lists and counts by tenant: an organization sees only its own jobs', async () => {
      const q = await open((q) => q.register('tenant.job', async () => {}));
      await q.pause('tenant.job');
      for (let i = 0; i < 3; i++) await q.enqueue('tenant.job', { i }, { key: `a${i}`, tenant: 'org_a' });
      for (let i = 0; i < 2; i++) await q.enqueue('tenant.job', { i }, { key: `b${i}`, tenant: 'org_b' });
      await q.enqueue('tenant.job', {}, { key: 'system' });
      expect((await q.list({ tenant: 'org_a' })).map((r) => r.key).sort()).toEqual(['a0', 'a1', 'a2']);
      expect((await q.list({ tenant: 'org_b', status: 'waiting' })).every((r) => r.tenant === 'org_b')).toBe(true);
      expect((await q.counts({ tenant: 'org_b' }))[0]).toMatchObject({ queue: 'tenant.job', waiting: 2 });
      expect((await q.counts())[0]).toMatchObject({ queue: 'tenant.job', waiting: 6, paused: true });
      await q.resume('tenant.job');
      await until('all to complete', async () => (await q.counts({ tenant: 'org_a' }))[0]!.completed, (n) => n === 3);
    });

    it('records a database effect exactly once per key, in the effect’s own transaction', async () => {
      const db = await backend.database();
      await ensureEffectTable(db.db);
      await db.db.execute(sql`create table if not exists effect_rows (id serial primary key, note text)`);
      const first = await effectOnce(db.db, 'evt-9:insert', (tx) => tx.execute(sql`insert into effect_rows (note) values ('one')`));
      const second = await effectOnce(db.db, 'evt-9:insert', (tx) => tx.execute(sql`insert into effect_rows (note) values ('two')`));
      await expect(effectOnce(db.db, 'evt-10:insert', async (tx) => {
        await tx.execute(sql`insert into effect_rows (note) values ('rolled back')`);
        throw new Error('effect failed');
      })).rejects.toThrow('effect failed');
      const retried = await effectOnce(db.db, 'evt-10:insert', (tx) => tx.execute(sql`insert into effect_rows (note) values ('after retry')`));
      expect([first.done, second.done, retried.done]).toEqual([true, false, true]);
      const rows = await db.run<{ note: string }>('select note from effect_rows order by id', []);
      expect(rows.map((r) => r.note)).toEqual(['one', 'after retry']);
    });
  });
}
