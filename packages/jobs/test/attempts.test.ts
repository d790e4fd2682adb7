import { describe, expect, it } from 'vitest';
import { createAttempts, jobIdOf } from '../src/common.ts';
import { JobTimeoutError, type JobContext } from '../src/index.ts';

/** The pieces every adapter shares, without a backend: job ids and one attempt's context, timeout and abort. */
describe('job ids and attempts (no backend)', () => {
  it('names a job by (queue, key) with a stable version-5-layout UUID', () => {
    // Ids stored by earlier versions must keep matching: these were computed with createHash('sha1').
    expect(jobIdOf('mail.send', 'evt-1:welcome')).toBe('91b6784f-d6c7-589b-ba84-f469195f9dd1');
    expect(jobIdOf('q', 'é€😀')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(jobIdOf('a.b', 'k')).not.toBe(jobIdOf('a', 'b\0k'));
  });

  it('gives the handler its context and the payload, and settles as the handler does', async () => {
    const attempts = createAttempts();
    let seen: Omit<JobContext, 'signal'> | undefined;
    const result = await attempts.run(async (data, ctx) => {
      seen = { id: ctx.id, queue: ctx.queue, key: ctx.key, tenant: ctx.tenant, attempt: ctx.attempt };
      return data;
    }, { k: 'key-1', t: 'org_a', p: { x: 1 } }, { id: 'id-1', queue: 'q.one', attempt: 2 }, 1_000);
    expect(result).toEqual({ x: 1 });
    expect(seen).toEqual({ id: 'id-1', queue: 'q.one', key: 'key-1', tenant: 'org_a', attempt: 2 });
    await expect(attempts.run(() => Promise.reject(new Error('no')), { k: 'k', t: null, p: null }, { id: 'i', queue: 'q', attempt: 1 }, 1_000)).rejects.toThrow('no');
    await expect(attempts.run(() => {
      throw new Error('sync');
    }, { k: 'k', t: null, p: null }, { id: 'i', queue: 'q', attempt: 1 }, 1_000)).rejects.toThrow('sync');
  });

  it('fails an attempt at its timeout before aborting its signal, even when the handler settles on the abort', async () => {
    const attempts = createAttempts();
    let reason: unknown;
    const run = attempts.run((_d, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => {
      reason = ctx.signal.reason;
      resolve('settled on abort');
    })), { k: 'k', t: null, p: null }, { id: 'i', queue: 'q', attempt: 1 }, 50);
    await expect(run).rejects.toBeInstanceOf(JobTimeoutError);
    expect(reason).toBeInstanceOf(JobTimeoutError);
  });

  it('aborts running attempts on abortAll, also when the handler reads its signal only afterwards', async () => {
    const attempts = createAttempts();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const late = attempts.run(async (_d, ctx) => {
      await gate;
      return { aborted: ctx.signal.aborted, reason: (ctx.signal.reason as Error).message };
    }, { k: 'k', t: null, p: null }, { id: 'i', queue: 'q', attempt: 1 }, 5_000);
    const early = attempts.run((_d, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('aborted'))), { k: 'k2', t: null, p: null }, { id: 'i2', queue: 'q', attempt: 1 }, 5_000);
    attempts.abortAll(new Error('worker stopping'));
    release();
    expect(await late).toEqual({ aborted: true, reason: 'worker stopping' });
    expect(await early).toBe('aborted');
    // Settled attempts are no longer tracked: aborting again reaches nothing.
    attempts.abortAll(new Error('again'));
  });
});
