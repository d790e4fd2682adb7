// Worker thread entry (plain JS on purpose). Node 20 does not apply module hooks from a Worker's execArgv to the
// worker (nodejs/node#47747; `--import tsx` there leaves .ts unloadable), so this entry registers tsx's ESM hooks
// itself — the repo runs all its TypeScript through tsx — then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
