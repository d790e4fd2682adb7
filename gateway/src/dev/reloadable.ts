import type { CompiledSchema } from '@objectos/schema';
import type { SubgraphSource } from '../create-gateway.ts';

/** One instance of a subgraph as the development reload serves, retires and disposes it. */
export interface Instance {
  readonly source: SubgraphSource;
  /** Subscriptions streaming from it now: a retired instance is kept until they end. */
  streams(): number;
  /** Stops its background work at once (the instance replacing it does that work now); its API still answers. */
  quiesce(): Promise<void>;
  dispose(): Promise<void>;
}

/** An instance built on new metadata, not served yet. */
export interface Candidate<T = unknown> extends Instance {
  readonly value: T;
  /** It serves from now on: the plugin holds it (its destroy disposes it) and hands back the one it replaced. */
  commit(): Instance;
}

/**
 * What a subgraph plugin offers the development reload (dev/hot-reload.ts), as its service
 * `reload:<name>`: the same subgraph built again, with the same options, on other metadata.
 */
export interface Reloadable<T = unknown> {
  readonly name: string;
  /** The instance serving now. */
  current(): T;
  /** Builds it on `compiled` beside the serving one (migrating what it owns, as at start). */
  build(compiled: CompiledSchema): Promise<Candidate<T>>;
}

export interface InstanceParts<T> {
  source(instance: T): SubgraphSource;
  dispose(instance: T): Promise<void> | void;
  /** @default no subscriptions */
  streams?(instance: T): number;
  /** @default nothing to stop before `dispose` */
  quiesce?(instance: T): Promise<void> | void;
}

/** A plugin's subgraph as a {@link Reloadable}: `slot` is the plugin's own variable (what its destroy disposes). */
export function reloadable<T>(name: string, slot: { get(): T; set(instance: T): void }, build: (compiled: CompiledSchema) => Promise<T> | T, parts: InstanceParts<T>): Reloadable<T> {
  const instanceOf = (t: T): Instance => ({
    source: parts.source(t),
    streams: () => parts.streams?.(t) ?? 0,
    quiesce: async () => void (await parts.quiesce?.(t)),
    dispose: async () => void (await parts.dispose(t)),
  });
  return {
    name,
    current: () => slot.get(),
    async build(compiled) {
      const next = await build(compiled);
      return {
        ...instanceOf(next),
        value: next,
        commit() {
          const before = instanceOf(slot.get());
          slot.set(next);
          return before;
        },
      };
    },
  };
}
