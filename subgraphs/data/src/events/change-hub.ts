import type { ChangeEvent, ChangeFeed } from '@objectos/events';

export type ChangeListener = (event: ChangeEvent) => void;

/**
 * One subscription to the change feed per data subgraph, fanned out to the live subscriptions of each
 * organization and object: an event is only ever looked at by subscribers of its own tenant.
 */
export interface ChangeHub {
  listen(organizationId: string, object: string, listener: ChangeListener): () => void;
  /** Live subscriptions (tests, metrics). */
  size(): number;
  close(): void;
}

export function createChangeHub(feed: ChangeFeed): ChangeHub {
  const listeners = new Map<string, Set<ChangeListener>>();
  const keyOf = (org: string, object: string) => `${org}\u0000${object}`;
  let count = 0;
  const off = feed.subscribe((e) => {
    const set = listeners.get(keyOf(e.organizationId, e.object));
    if (set) for (const l of [...set]) l(e);
  });
  return {
    listen(org, object, listener) {
      const key = keyOf(org, object);
      let set = listeners.get(key);
      if (!set) listeners.set(key, (set = new Set()));
      set.add(listener);
      count++;
      return () => {
        if (!set.delete(listener)) return;
        count--;
        if (set.size === 0) listeners.delete(key);
      };
    },
    size: () => count,
    close: () => {
      off();
      listeners.clear();
      count = 0;
    },
  };
}
