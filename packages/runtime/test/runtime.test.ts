import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('./fixtures/main.ts', import.meta.url));

/** What `node --import @objectos/runtime/register` does with the repository's TypeScript (every process runs so). */
describe('@objectos/runtime', () => {
  it('runs TypeScript as written: types stripped, a ./x.js import of x.ts resolved, names untouched, stack traces on the .ts lines', () => {
    const out = execFileSync(process.execPath, ['--import', '@objectos/runtime/register', main], { encoding: 'utf8', cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
    const got = JSON.parse(out) as { area: number; source: string; where: string };
    expect(got.area).toBe(9);
    // No wrapper per function (tsx's keepNames made one, a defineProperty per closure created).
    expect(got.source).toContain('const square = (x) => x * x');
    expect(got.source).not.toContain('__name');
    expect(got.where).toMatch(/shapes\.ts:9:\d+/);
  });
});
