import { register } from 'node:module';

// `node --import @objectos/runtime/register entry.ts`: TypeScript through ./hooks.mjs, stack traces
// through its source maps.
register('./hooks.mjs', import.meta.url);
process.setSourceMapsEnabled(true);
