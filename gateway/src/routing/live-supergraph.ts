import { createHash } from 'node:crypto';
import { composeSupergraph } from '@objectos/schema';
import type { Logger } from '@objectos/observability';
import type { Sender } from './senders.ts';
import { fetchSdl, graphsOfSupergraph } from './supergraph.ts';

/** One subgraph's SDL as composed. */
export interface SubgraphSdl {
  name: string;
  url: string;
  sdl: string;
}

/** Where the supergraph comes from: composed from subgraphs, or given whole (a file, a URL, a registry). */
export type SupergraphInput =
  | { kind: 'compose'; subgraphs: readonly { sender: Sender; sdl?: string }[] }
  | { kind: 'supergraph'; read: () => Promise<string>; senderOf: (address: { name: string; url: string }) => Sender };

/** Operator view of one subgraph: no URLs, no schema details (those are in the log). */
export interface SubgraphHealth {
  name: string;
  /** up: composed and answering its SDL; down: not answering (left out at start, or gone since); listed: named by a given supergraph, not polled. */
  state: 'up' | 'down' | 'listed';
  since: string;
}

export interface SupergraphHealth {
  status: 'healthy' | 'degraded';
  supergraph: { hash: string; composedAt: string; source: 'composed' | 'given' };
  subgraphs: SubgraphHealth[];
  /** The last recomposition that failed (and was not served), if the one after it did not succeed. */
  lastFailure: { at: string; subgraphs: string[] } | null;
}

export interface LiveSupergraph<S> {
  /** The routing built from the last good supergraph. */
  readonly current: S;
  readonly supergraphSdl: string;
  readonly sdls: readonly SubgraphSdl[] | null;
  health(): SupergraphHealth;
  /** Polls once now: true when a new supergraph is being served. */
  refresh(): Promise<boolean>;
  /**
   * Composes these subgraphs instead (compose mode; the development reload's new instances) and serves
   * them once built, even when the supergraph text is the same (the new instances behave differently).
   * Waits for a poll in progress. Throws when they cannot be composed or built: the last good keeps serving.
   */
  replace(subgraphs: readonly { sender: Sender; sdl?: string }[]): Promise<void>;
  close(): void;
}

export interface LiveSupergraphOptions<S> {
  input: SupergraphInput;
  /** Builds what requests run on from a supergraph (and, when composed, its subgraphs' SDL); throws if it cannot. */
  build: (supergraphSdl: string, sdls: readonly SubgraphSdl[] | null, senders: readonly Sender[]) => Promise<S>;
  /** Called with each new routing, after it was built (the old one keeps serving until then). */
  onChange: (next: S) => void;
  logger: Logger;
  /** Poll subgraph SDLs (or the given supergraph) this often; 0: never. @default 10000 */
  pollMs?: number;
}

const hashOf = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ObjectOS's own subgraphs must answer at start; an external one that does not is left out until it does. */
async function firstSdl(sender: Sender, logger: Logger): Promise<string | null> {
  const attempts = sender.internal ? 5 : 2;
  for (let i = 1; ; i++) {
    try {
      return await fetchSdl(sender);
    } catch (e) {
      if (i < attempts) {
        await sleep(500 * i);
        continue;
      }
      if (sender.internal) throw e;
      logger.warn({ subgraph: sender.name, err: (e as Error).message }, 'external subgraph is down: starting without it, it joins when it answers');
      return null;
    }
  }
}

/**
 * The supergraph the gateway serves, kept current: subgraph SDLs (or the given supergraph) are polled,
 * and a change is composed and built before it replaces what serves requests. A composition or build
 * error is logged naming the subgraphs and the conflict, and the last good supergraph keeps serving.
 */
export async function startLiveSupergraph<S>(options: LiveSupergraphOptions<S>): Promise<LiveSupergraph<S>> {
  const { input, build, onChange, logger, pollMs = 10_000 } = options;
  const now = () => new Date().toISOString();
  type Entry = { sender: Sender; sdl: string | null; fixed: boolean; state: 'up' | 'down' | 'listed'; since: string };
  let entries: Entry[];
  let given: string | null = null;
  if (input.kind === 'compose') {
    entries = await Promise.all(input.subgraphs.map(async (s): Promise<Entry> => {
      const sdl = s.sdl ?? (await firstSdl(s.sender, logger));
      return { sender: s.sender, sdl, fixed: s.sdl !== undefined, state: sdl === null ? 'down' : 'up', since: now() };
    }));
    if (!entries.some((e) => e.sdl !== null)) throw new Error('no subgraph answered with its SDL: nothing to compose');
  } else {
    given = await input.read();
    entries = [];
  }

  const assemble = async (): Promise<{ supergraphSdl: string; sdls: SubgraphSdl[] | null; state: S }> => {
    if (input.kind === 'supergraph') {
      const supergraphSdl = given!;
      const listed = graphsOfSupergraph(supergraphSdl).map((g): Entry => ({ sender: input.senderOf(g), sdl: null, fixed: true, state: 'listed', since: now() }));
      const state = await build(supergraphSdl, null, listed.map((e) => e.sender));
      entries = listed;
      return { supergraphSdl, sdls: null, state };
    }
    const live = entries.filter((e) => e.sdl !== null);
    const sdls = live.map((e) => ({ name: e.sender.name, url: e.sender.url, sdl: e.sdl! }));
    const supergraphSdl = composeSupergraph(sdls);
    return { supergraphSdl, sdls, state: await build(supergraphSdl, sdls, live.map((e) => e.sender)) };
  };

  let served = await assemble();
  let composedAt = now();
  let lastFailure: SupergraphHealth['lastFailure'] = null;
  let polling: Promise<boolean> | null = null;

  const poll = async (): Promise<boolean> => {
    let changed = false;
    if (input.kind === 'supergraph') {
      try {
        const text = await input.read();
        if (text !== given) {
          given = text;
          changed = true;
        }
      } catch (e) {
        logger.warn({ err: (e as Error).message }, 'supergraph could not be read: serving the last one');
      }
    } else {
      await Promise.all(entries.filter((e) => !e.fixed).map(async (e) => {
        try {
          const sdl = await fetchSdl(e.sender);
          if (e.state === 'down') {
            logger.info({ subgraph: e.sender.name }, 'subgraph answers again');
            e.state = 'up';
            e.since = now();
          }
          if (sdl !== e.sdl) {
            e.sdl = sdl;
            changed = true;
          }
        } catch (err) {
          if (e.state !== 'down') {
            logger.warn({ subgraph: e.sender.name, err: (err as Error).message }, 'subgraph stopped answering: its fields fail with SUBGRAPH_UNAVAILABLE until it is back');
            e.state = 'down';
            e.since = now();
          }
        }
      }));
    }
    if (!changed) return false;
    try {
      const next = await assemble();
      if (next.supergraphSdl === served.supergraphSdl) return false;
      served = next;
      composedAt = now();
      lastFailure = null;
      onChange(next.state);
      logger.info({ supergraph: hashOf(next.supergraphSdl), subgraphs: entries.map((e) => e.sender.name) }, 'supergraph recomposed: now serving it');
      return true;
    } catch (e) {
      const message = (e as Error).message;
      const named = entries.map((x) => x.sender.name).filter((n) => message.includes(`"${n}"`));
      lastFailure = { at: now(), subgraphs: named };
      logger.error({ err: message, subgraphs: named }, `supergraph change refused (${input.kind === 'compose' ? 'composition failed' : 'it cannot be served'}): serving the last good supergraph`);
      return false;
    }
  };
  const refresh = () => (polling ??= poll().finally(() => (polling = null)));
  const replace = async (subgraphs: readonly { sender: Sender; sdl?: string }[]): Promise<void> => {
    if (input.kind !== 'compose') throw new Error('a given supergraph names its own subgraphs: they cannot be replaced');
    // One recomposition at a time: a poll (or another replacement) finishes first.
    while (polling) await polling;
    const run = (async () => {
      const next = await Promise.all(subgraphs.map(async (s): Promise<Entry> => ({ sender: s.sender, sdl: s.sdl ?? (await fetchSdl(s.sender)), fixed: s.sdl !== undefined, state: 'up', since: now() })));
      const before = entries;
      entries = next;
      try {
        served = await assemble();
      } catch (e) {
        entries = before;
        throw e;
      }
      composedAt = now();
      lastFailure = null;
      onChange(served.state);
      logger.info({ supergraph: hashOf(served.supergraphSdl), subgraphs: entries.map((e) => e.sender.name) }, 'subgraphs replaced: now serving them');
    })();
    polling = run.then(() => true, () => false).finally(() => (polling = null));
    await run;
  };
  const timer = pollMs > 0 ? setInterval(() => void refresh(), pollMs) : null;
  timer?.unref();

  return {
    get current() {
      return served.state;
    },
    get supergraphSdl() {
      return served.supergraphSdl;
    },
    get sdls() {
      return served.sdls;
    },
    health: () => ({
      status: entries.some((e) => e.state === 'down') || lastFailure ? 'degraded' : 'healthy',
      supergraph: { hash: hashOf(served.supergraphSdl), composedAt, source: input.kind === 'compose' ? 'composed' : 'given' },
      subgraphs: entries.map((e) => ({ name: e.sender.name, state: e.state, since: e.since })),
      lastFailure,
    }),
    refresh,
    replace,
    close: () => {
      if (timer) clearInterval(timer);
    },
  };
}
