// Worker thread entry (plain JS on purpose). Node 20 does not apply module hooks from a Worker's execArgv to the
// worker (nodejs/node#47747; `--import @objectos/runtime/register` there leaves .ts unloadable), so this entry
// registers the repository's TypeScript hooks itself, as every process of the repo runs them, then loads the worker.
await import('@objectos/runtime/register');
await import('./worker.ts');
