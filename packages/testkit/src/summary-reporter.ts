import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints one plain closing line, `objectos: N passed, N failed, N skipped`, that any CI log reader
 * understands (vitest's own summary stays above it).
 */
export default class SummaryReporter implements Reporter {
  async onTestRunEnd(modules: readonly TestModule[]): Promise<void> {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      if (m.state() === 'failed' && [...m.children.allTests()].length === 0) failed++;
    }
    // After the default reporter's summary, so this stays the closing line.
    await new Promise((r) => setTimeout(r, 20));
    process.stdout.write(`\nobjectos: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
