import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox, MAX_LOG_LINE_CHARS, MAX_LOG_LINES, ScriptError, type Sandbox, type ScriptInput, type ScriptResult } from '../src/index.ts';

const record = { id: 'r1', qty: 3, price: 2.5, tags: ['a', 'b'], owner: { name: 'Ada' } };

/** The ScriptError a run rejects with (fails the test when it resolves or rejects with something else). */
async function failure(sandbox: Sandbox, input: ScriptInput): Promise<ScriptError> {
  let result: ScriptResult | undefined;
  try {
    result = await sandbox.run(input);
  } catch (error) {
    if (error instanceof ScriptError) return error;
    throw error;
  }
  throw new Error(`expected the run to fail, it returned ${JSON.stringify(result)}`);
}

describe('@objectos/sandbox', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await createSandbox();
  });
  afterAll(() => sandbox?.close());

  const run = (code: string, extra: Partial<ScriptInput> = {}) => sandbox.run({ code, record, timeoutMs: 1000, ...extra });

  it('reads record fields and returns the updates asked for, later calls winning', async () => {
    const result = await run(`
      const total = record.qty * record.price;
      ctx.update('total', total);
      ctx.update({ label: record.owner.name + ' x' + record.tags.length, total: total + 1 });
      ctx.update('nested', { a: [1, null, true, 'x'], b: { c: -0.5 } });
      if (prior === null) ctx.update('priorSeen', false);
      return;
      ctx.update('unreachable', 1);
    `);
    expect(result.updates).toEqual({ total: 8.5, label: 'Ada x2', nested: { a: [1, null, true, 'x'], b: { c: -0.5 } }, priorSeen: false });
    expect(result.durationMs).toBeGreaterThan(0);
    const withPrior = await run(`ctx.update('delta', record.qty - prior.qty)`, { prior: { qty: 1 } });
    expect(withPrior.updates).toEqual({ delta: 2 });
  });

  it('gives the script deep-frozen copies of record and prior', async () => {
    const error = await failure(sandbox, { code: `record.owner.name = 'Eve'`, record, timeoutMs: 1000 });
    expect(error.code).toBe('SCRIPT_ERROR');
    expect(error.message).toMatch(/TypeError: .*read-only at line 1/);
    await expect(run(`ctx.update('frozen', Object.isFrozen(record) && Object.isFrozen(record.tags) && Object.isFrozen(prior))`, { prior: { x: 1 } })).resolves.toMatchObject({ updates: { frozen: true } });
    expect(record.owner.name).toBe('Ada');
  });

  it('runs async scripts until their promise settles', async () => {
    const result = await run(`
      const double = async (n) => { await null; return n * 2; };
      const values = await Promise.all([double(record.qty), Promise.resolve(10).then((v) => v + 1)]);
      ctx.update({ doubled: values[0], other: values[1] });
    `);
    expect(result.updates).toEqual({ doubled: 6, other: 11 });
    const never = await failure(sandbox, { code: 'await new Promise(() => {})', record, timeoutMs: 1000 });
    expect(never.code).toBe('SCRIPT_ERROR');
    expect(never.message).toMatch(/never settles/);
  });

  it('stops an endless loop at its timeout, even one that catches', async () => {
    for (const code of ['while (true) {}', 'for (;;) { try { while (true) {} } catch (e) {} }', 'while (true) await 0']) {
      const started = performance.now();
      const error = await failure(sandbox, { code, record, timeoutMs: 50 });
      expect(error.code).toBe('TIMEOUT');
      expect(error.message).toBe('the script ran past its 50 ms limit');
      expect(performance.now() - started).toBeLessThan(2000);
    }
  });

  it('stops a loop over a builtin that never polls for interrupts by terminating its worker, then runs on', async () => {
    const before = sandbox.stats();
    const started = performance.now();
    const error = await failure(sandbox, { code: 'const a = new Array(1e6).fill(0); while (true) a.indexOf(1);', record, timeoutMs: 50 });
    expect(error.code).toBe('TIMEOUT');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(sandbox.stats().hardKills).toBe(before.hardKills + 1);
    await expect(run(`ctx.update('alive', true)`)).resolves.toMatchObject({ updates: { alive: true } });
  });

  it('stops memory bombs with MEMORY and the next run works', async () => {
    const bombs = [
      'let a = []; while (true) a.push(new Array(1e6).fill(1));',
      'let a = []; while (true) a.push({ n: a.length, s: "x" + a.length });',
      'let s = "x"; while (true) { s += s; s.charCodeAt(s.length - 1); }', // flattened: real memory
      'let s = "x"; while (true) s += s;', // a rope: hits the engine's maximum string length first
      'globalThis.keep = []; while (true) keep.push(new Uint8Array(1 << 20));', // still held when the run ends
    ];
    for (const code of bombs) {
      const error = await failure(sandbox, { code, record, timeoutMs: 20_000, memoryBytes: 16 * 1024 * 1024 });
      expect(error.code, code).toBe('MEMORY');
      expect(error.message).toMatch(/^the script exceeded its 16 MiB memory limit/);
      await expect(run(`ctx.update('after', record.qty)`)).resolves.toMatchObject({ updates: { after: 3 } });
    }
  });

  it('turns deep recursion into a clean stack overflow error', async () => {
    const cases = [
      'function f(n) { return f(n + 1) + 1; }\nf(0);',
      'const o = { get x() { return this.x; } };\no.x;',
      'JSON.parse("[".repeat(1e5));',
      'eval("(".repeat(1e5) + "1" + ")".repeat(1e5));', // the parser: the deepest native stack per QuickJS byte
    ];
    for (const code of cases) {
      const error = await failure(sandbox, { code, record, timeoutMs: 5000 });
      expect(error.code, code).toBe('SCRIPT_ERROR');
      expect(error.message, code).toMatch(/stack overflow/);
    }
    expect((await failure(sandbox, { code: cases[0]!, record, timeoutMs: 5000 })).message).toBe('InternalError: stack overflow at line 1');
    await expect(run(`ctx.update('ok', 1)`)).resolves.toMatchObject({ updates: { ok: 1 } });
  });

  it('has no host capabilities inside', async () => {
    const names = ['process', 'require', 'module', 'fetch', 'setTimeout', 'setInterval', 'queueMicrotask', 'XMLHttpRequest', 'WebAssembly', 'console', 'Buffer', 'std', 'os'];
    const result = await run(`for (const n of ${JSON.stringify(names)}) ctx.update(n, typeof globalThis[n]); ctx.update('direct', typeof process + typeof require + typeof fetch + typeof setTimeout);`);
    expect(result.updates).toEqual({ ...Object.fromEntries(names.map((n) => [n, 'undefined'])), direct: 'undefinedundefinedundefinedundefined' });
    // eval and Function exist but stay inside the VM
    await expect(run(`ctx.update('e', eval('1 + 1') + new Function('return typeof process')())`)).resolves.toMatchObject({ updates: { e: '2undefined' } });
  });

  it('leaks no state between runs', async () => {
    await run(`globalThis.leaked = 42; Object.prototype.polluted = true; Array.prototype.push = null; JSON.stringify = () => '{}';`);
    const result = await run(`ctx.update({ leaked: typeof leaked, polluted: typeof ({}).polluted, push: typeof [].push, list: [1, 2] })`);
    expect(result.updates).toEqual({ leaked: 'undefined', polluted: 'undefined', push: 'function', list: [1, 2] });
  });

  it('reports a thrown error with its message and line', async () => {
    const error = await failure(sandbox, { code: 'const a = 1;\nconst b = 2;\nfoo();', record, timeoutMs: 1000 });
    expect(error.code).toBe('SCRIPT_ERROR');
    expect(error.message).toBe("ReferenceError: 'foo' is not defined at line 3");
    const custom = await failure(sandbox, { code: 'ctx.log("before");\nthrow new RangeError("qty " + record.qty + " too high");', record, timeoutMs: 1000 });
    expect(custom.message).toBe('RangeError: qty 3 too high at line 2');
    expect(custom.logs).toEqual(['before']);
    const syntax = await failure(sandbox, { code: 'let x = 1;\nlet y = ;', record, timeoutMs: 1000 });
    expect(syntax.message).toMatch(/^SyntaxError: .* at line 2$/);
    const thrownValue = await failure(sandbox, { code: 'throw { reason: "nope" }', record, timeoutMs: 1000 });
    expect(thrownValue.message).toBe('the script threw {"reason":"nope"}');
  });

  it('refuses updates that are not JSON values (BAD_RESULT), even when the script catches the refusal', async () => {
    const cases: Array<[string, RegExp]> = [
      [`ctx.update('f', () => 1)`, /ctx.update\("f"\): a function is not a JSON value/],
      [`ctx.update({ d: new Date() })`, /not a plain object/],
      [`ctx.update('n', NaN)`, /NaN is not a JSON number/],
      [`ctx.update('u', undefined)`, /undefined is not a JSON value/],
      [`ctx.update('deep', { list: [1, { f: Symbol('s') }] })`, /a symbol is not a JSON value/],
      [`const o = {}; o.self = o; ctx.update('cycle', o)`, /circular/],
      [`try { ctx.update('b', 10n) } catch (e) {} ctx.update('ok', 1)`, /a bigint is not a JSON value/],
      [`ctx.update(42)`, /expects \(field, value\)/],
      [`ctx.update('__proto__', {})`, /__proto__/],
      [`ctx.update('big', 'x'.repeat(300 * 1024))`, /over 256 KiB/],
      [`for (let i = 0; i < 100; i++) ctx.update('f' + i, 'é'.repeat(1000) + '€'.repeat(1000))`, /over the 256 KiB limit/],
    ];
    for (const [code, message] of cases) {
      const error = await failure(sandbox, { code, record, timeoutMs: 1000 });
      expect(error.code, code).toBe('BAD_RESULT');
      expect(error.message, code).toMatch(message);
    }
  });

  it('captures logs, JSON-stringifying non-strings, capped in count and length', async () => {
    const result = await run(`
      ctx.log('qty', record.qty, { a: [1] }, null, undefined, new Error('boom'));
      ctx.log('x'.repeat(5000));
      for (let i = 0; i < 500; i++) ctx.log('line', i);
    `);
    expect(result.logs).toHaveLength(MAX_LOG_LINES);
    expect(result.logs[0]).toBe('qty 3 {"a":[1]} null undefined Error: boom');
    expect(result.logs[1]).toBe('x'.repeat(MAX_LOG_LINE_CHARS));
    expect(result.logs[2]).toBe('line 0');
    expect(result.logs[MAX_LOG_LINES - 1]).toBe(`line ${MAX_LOG_LINES - 3}`);
    const timedOut = await failure(sandbox, { code: `ctx.log('started'); while (true) {}`, record, timeoutMs: 50 });
    expect(timedOut.logs).toEqual(['started']);
  });

  it('rejects bad input as TypeError/RangeError, not as a script failure', async () => {
    await expect(sandbox.run({ code: '', record: { n: 1n } as unknown as Record<string, unknown>, timeoutMs: 100 })).rejects.toThrow(TypeError);
    await expect(sandbox.run({ code: '', record, timeoutMs: 0 })).rejects.toThrow(RangeError);
    await expect(sandbox.run({ code: '', record, timeoutMs: 100, memoryBytes: 1024 })).rejects.toThrow(RangeError);
  });

  it('runs 300 small scripts in a row, all correct', async () => {
    for (let i = 0; i < 300; i++) {
      const result = await sandbox.run({ code: `ctx.update('next', record.n + 1)`, record: { n: i }, timeoutMs: 1000 });
      expect(result.updates).toEqual({ next: i + 1 });
    }
  });

  it('spreads concurrent runs over several workers, each result its own', async () => {
    const pool = await createSandbox({ workers: 2 });
    try {
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => pool.run({ code: `await null; ctx.update('twice', record.n * 2)`, record: { n: i }, timeoutMs: 1000 })));
      expect(results.map((r) => r.updates['twice'])).toEqual(Array.from({ length: 40 }, (_, i) => i * 2));
      expect(pool.stats()).toMatchObject({ runs: 40, engineFaults: 0 });
    } finally {
      pool.close();
    }
    await expect(pool.run({ code: '', record, timeoutMs: 100 })).rejects.toThrow(/closed/);
  });

  it('had no engine faults (no QuickJS abort or leaked-handle assertion on dispose) in all the runs above', () => {
    const stats = sandbox.stats();
    expect(stats.runs).toBeGreaterThan(300);
    expect(stats.engineFaults).toBe(0);
  });
});
