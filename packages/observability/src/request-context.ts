import { AsyncLocalStorage } from 'node:async_hooks';

/** The request being served (its id), for log lines written anywhere below it. */
const store = new AsyncLocalStorage<{ requestId: string }>();

/** Runs `fn` as part of the request `requestId`: every log line written inside carries the id. */
export const runWithRequestId = <T>(requestId: string, fn: () => T): T => store.run({ requestId }, fn);

/** The id of the request being served, if any. */
export const currentRequestId = (): string | undefined => store.getStore()?.requestId;

/** Runs `fn` as part of no request (background work started from within one). */
export const outsideRequest = <T>(fn: () => T): T => store.exit(fn);
