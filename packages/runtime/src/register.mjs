import { register } from 'node:module';

// `node --import ./packages/runtime/register.mjs entry.ts`: TypeScript through ./hooks.mjs, stack traces
// through its source maps.
register('./hooks.mjs', import.meta.url);
process.setSourceMapsEnabled(true);
