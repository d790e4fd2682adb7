import type { FanOut } from '@objectos/data-subgraph';
import { createChangeFeed, type ChangeEvent, type ChangeFeed } from '@objectos/events';
import type { SseSubscription } from '@objectos/testkit';

/**
 * Plumbing of the subscription oracle test (subscription-oracle.test.ts): counting delivery checks,
 * recording the change feed.
 */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until(what: () => boolean, ms: number, message: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`${message()} (waited ${ms} ms)`);
    await sleep(2);
  }
}

/**
 * The data subgraph's delivery checks, counted as one subscriber's check of one event (the fan-out runs
 * them grouped, a batch of events for every group in one statement, and counts them so). A share may
 * only change once every check of the events before it has run: each check reads the subscriber's
 * access as it is when it runs (that is the rule under test), so the oracle's "world at that event" is
 * only well defined once the earlier checks are done.
 */
export interface CheckCounter { readonly started: number; readonly done: number }
export function checkCounter(live: () => FanOut): CheckCounter {
  return {
    get started() {
      const s = live().stats();
      return s.checks + s.checking;
    },
    get done() {
      return live().stats().checks;
    },
  };
}

/** An in-process change feed that also keeps what was published (event ids, commit times, snapshots). */
export function recordingFeed(): { feed: ChangeFeed; published: ChangeEvent[] } {
  const inner = createChangeFeed();
  const published: ChangeEvent[] = [];
  return {
    published,
    feed: { ...inner, publish: (e) => (published.push(e), inner.publish(e)) },
  };
}

/** A live subscription over SSE, read in the background (the test kit's reader). */
export type Stream = SseSubscription<Record<string, unknown>>;
