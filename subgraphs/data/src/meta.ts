import { describeObject, describeObjects, type Inflection, type ObjectDescription } from '@objectos/schema';
import type { DataContext } from './resolvers.ts';

/**
 * `objects` and `object(name)`: the request's own access decides what is described (the builder is
 * shared with the gateway's `GET /api/v1/meta/objects`). A request without a security context (the
 * runtime's own work) is described nothing rather than everything: discovery is for principals.
 */
export function metaResolvers(names: Pick<Inflection, 'sharedField'>): Record<string, (parent: unknown, args: { name?: string }, ctx: DataContext) => unknown> {
  return {
    [names.sharedField('objects')]: (_parent, _args, ctx): ObjectDescription[] => (ctx.ds.sc ? describeObjects(ctx.ds.plan, ctx.ds.sc.access) : []),
    [names.sharedField('object')]: (_parent, args, ctx): ObjectDescription | null =>
      ctx.ds.sc && typeof args.name === 'string' ? describeObject(ctx.ds.plan, ctx.ds.sc.access, args.name) : null,
  };
}
