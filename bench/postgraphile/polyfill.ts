/**
 * Preloaded into the PostGraphile process (`node --import @objectos/runtime/register --import ./bench/postgraphile/polyfill.ts`):
 * PostGraphile 5 (grafast, @dataplan/pg) calls Node 22's `Promise.withResolvers`. On Node 20 without it,
 * every query fails with "Cannot read properties of undefined (reading 'items')".
 */
interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}
const P = Promise as PromiseConstructor & { withResolvers?: <T>() => Resolvers<T> };

if (typeof P.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value<T>(): Resolvers<T> {
      let resolve!: Resolvers<T>['resolve'];
      let reject!: Resolvers<T>['reject'];
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export {};
