import type { DataSubgraph } from '@objectos/data-subgraph';
import { MigrationError } from '@objectos/data-subgraph';
import { securityNamesOf, type SecurityNames } from '@objectos/identity-subgraph';
import { pluginManifest, type Plugin, type PluginContext } from '@objectos/kernel';
import { loadMetadata, type MetadataModel } from '@objectos/metadata';
import { compile, type CompiledSchema } from '@objectos/schema';
import type { Gateway, SubgraphSource } from '../create-gateway.ts';
import { OBJECTOS_VERSION } from '../plugins/core.ts';
import type { Candidate, Instance, Reloadable } from './reloadable.ts';
import { describeChange, describeMigration, fingerprintOf, needsRestart } from './reload-summary.ts';
import { watchMetadata, type MetadataWatch } from './watch-metadata.ts';

/** The subgraphs whose schema comes from the metadata, in the gateway's order: a reload rebuilds each one running here. */
export const RELOADED = ['data', 'audit', 'automation', 'workflow', 'metrics'] as const;

export interface ReloadOutcome {
  /** served: the edit serves now; unchanged: the files say what is served already; refused: the last good keeps serving. */
  result: 'served' | 'unchanged' | 'refused';
  /** What was printed. */
  message: string;
  ms: number;
  /** Why it was refused: a MetadataError or CompileError (located), a MigrationError, a composition error… */
  error?: Error;
}

/** The running reload (RunningObjectOS.hotReload): what tests and tools wait on. */
export interface HotReload {
  /** Reloads now, after any reload in progress (what an edit does once the files settle). */
  reload(): Promise<ReloadOutcome>;
  /** Calls `listener` after each reload; returns its removal. */
  onReload(listener: (outcome: ReloadOutcome) => void): () => void;
  /** Replaced instances still kept for their requests in flight and open subscriptions. */
  retired(): number;
}

export interface HotReloadOptions {
  metadataDir: string;
  namePrefix?: string;
  /** The metadata the process started with (and serves until the first reload). */
  model: MetadataModel;
  /** Subgraphs of other processes (external ones): composed beside the rebuilt ones, as at start. */
  remote: Record<string, string>;
  /** A replaced instance is kept at least this long: the gateway's subgraph timeout bounds a call in flight. */
  graceMs: number;
  /** @default 200 */
  debounceMs?: number;
  /** Shutdown began (the gateway may be closed already): an edit is no longer loaded. @default never */
  stopping?: () => boolean;
  /** Where outcome lines go (the start's own output). @default console */
  print?: { log(line: string): void; error(line: string): void };
}

const errorOf = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));
const short = (fingerprint: string) => `${fingerprint.slice(0, 12)}…`;

/**
 * `hot-reload` (development): once every plugin started, watches the metadata folder and, once an edit
 * settles, loads and compiles it, builds the subgraphs that derive from it beside the serving ones (the
 * data subgraph first: its migration runs as at start), and has the gateway swap them in with the new
 * schema. Requests in flight
 * finish on the old instances, which are disposed after `graceMs` once their subscriptions have ended.
 * A broken edit (invalid metadata, a refused migration, a failed composition) prints its located error
 * and the last good metadata keeps serving. Shared services (database, change feed, job runtime,
 * identity) are kept as they are.
 */
export function hotReloadPlugin(options: HotReloadOptions): Plugin {
  const print = options.print ?? { log: (l: string) => console.log(l), error: (l: string) => console.error(l) };
  const listeners = new Set<(outcome: ReloadOutcome) => void>();
  const retirees = new Map<Instance, NodeJS.Timeout>();
  let served = { model: options.model, fingerprint: fingerprintOf(options.model) };
  let queue: Promise<unknown> = Promise.resolve();
  let watcher: MetadataWatch | null = null;

  const dispose = (instance: Instance) => {
    clearTimeout(retirees.get(instance));
    retirees.delete(instance);
    return instance.dispose().catch((e: unknown) => print.error(`a replaced ${instance.source.name} subgraph did not close cleanly: ${errorOf(e).message}`));
  };
  // Kept while a request may still be on it (the grace) and while subscriptions stream from it.
  const retire = (instance: Instance) => {
    const check = () => {
      if (instance.streams() === 0) return void dispose(instance);
      retirees.set(instance, setTimeout(check, 1_000).unref());
    };
    retirees.set(instance, setTimeout(check, options.graceMs).unref());
  };

  const reloadOnce = async (ctx: PluginContext): Promise<ReloadOutcome> => {
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    const stopping = (): ReloadOutcome | null => (options.stopping?.() ? { result: 'refused', message: 'shutting down: the edit is not loaded', ms: ms() } : null);
    const refuse = (error: Error, what: string, migrated = false): ReloadOutcome => {
      const kept = migrated ? 'the columns and tables the migration added stay, unused until served' : 'nothing changed';
      const message = `metadata reload refused (${what}); still serving ${short(served.fingerprint)}, ${kept}:\n${error.message}`;
      print.error(message);
      return { result: 'refused', message, ms: ms(), error };
    };
    const late = stopping();
    if (late) return late;
    let model: MetadataModel;
    let compiled: CompiledSchema;
    try {
      model = await loadMetadata(options.metadataDir);
      compiled = compile(model, options.namePrefix ? { namePrefix: options.namePrefix } : {});
    } catch (e) {
      return refuse(errorOf(e), 'invalid metadata');
    }
    const fingerprint = fingerprintOf(model);
    if (fingerprint === served.fingerprint) {
      const message = `metadata unchanged: still serving ${short(fingerprint)}`;
      print.log(message);
      return { result: 'unchanged', message, ms: ms() };
    }
    const rebuilt = RELOADED.flatMap((name) => ctx.getOptionalService<Reloadable>(`reload:${name}`) ?? []);
    const previous = rebuilt.find((r) => r.name === 'data')?.current() as DataSubgraph | undefined;
    const restart = needsRestart(options.model, model, rebuilt.some((r) => r.name === 'workflow'));
    if (restart) return refuse(new Error(`restart ObjectOS to apply this edit: ${restart}`), 'needs a restart');

    // The data subgraph first: a refused migration (which applies nothing) stops the reload before anything else is built.
    const candidates: Candidate[] = [];
    let data: DataSubgraph | null = null;
    const release = () => Promise.all(candidates.map((c) => c.dispose()));
    for (const r of rebuilt) {
      try {
        const candidate = await r.build(compiled);
        candidates.push(candidate);
        if (r.name === 'data') data = (candidate as Candidate<DataSubgraph>).value;
      } catch (e) {
        await release();
        return refuse(errorOf(e), e instanceof MigrationError ? 'the migration would lose data' : `the ${r.name} subgraph failed to build`, Boolean(data?.migration.applied));
      }
    }
    const closing = stopping();
    if (closing) {
      await release();
      return closing;
    }
    const identity = ctx.getOptionalService<SubgraphSource>('subgraph:identity');
    const sources = [...(identity ? [identity] : []), ...candidates.map((c) => c.source), ...Object.entries(options.remote).map(([name, url]) => ({ name, url }))];
    try {
      const gateway = ctx.getOptionalService<Gateway>('gateway');
      if (!gateway) throw new Error('the gateway is not serving');
      await gateway.replaceSubgraphs(sources);
    } catch (e) {
      await release();
      return refuse(errorOf(e), 'the subgraphs do not compose', Boolean(data?.migration.applied));
    }
    // Served now: each plugin holds its new instance; the old ones stop their background work and retire.
    const replaced = candidates.map((c) => c.commit());
    await Promise.all(replaced.map((i) => i.quiesce()));
    replaced.forEach(retire);
    // Its access rules serve from now on (not before: a refused reload served nothing); subscriptions
    // of the replaced data subgraph do not go on under security rules no longer served.
    await data?.serveRules();
    const ended = previous && data ? await previous.handOver(data) : 0;
    const names = ctx.getOptionalService<SecurityNames>('identity.securityNames');
    if (names) Object.assign(names, securityNamesOf(model.security));
    const change = describeChange(served.model, model);
    served = { model, fingerprint };
    const migrated = data ? describeMigration(data.migration) : '';
    const lines = [`metadata reloaded in ${ms()} ms (${short(fingerprint)}): ${change.summary}${migrated ? `; ${migrated}` : ''}`];
    if (ended > 0) lines.push(`  the access rules changed: ${ended} live subscription(s) were told what left their view and ended (clients subscribe again)`);
    if (change.atStart.length > 0) lines.push(`  ${change.atStart.join(', ')} changed: the job runtime and sign-in keep what they started with until the next start`);
    const message = lines.join('\n');
    print.log(message);
    return { result: 'served', message, ms: ms() };
  };

  return {
    name: 'hot-reload', version: OBJECTOS_VERSION,
    manifest: pluginManifest({
      name: 'hot-reload', version: OBJECTOS_VERSION,
      provides: [{ id: 'com.objectos.service.hot-reload', name: 'hotReload', methods: ['reload'] }],
      // Not the gateway: that starts last (it is what listens); the watch begins once it does (kernel:ready).
      requires: ['data', ...RELOADED.filter((n) => n !== 'data').map((pluginId) => ({ pluginId, optional: true })), { pluginId: 'identity', optional: true }],
    }),
    start(ctx) {
      // One reload at a time, whether an edit or a call asked for it.
      const reload = (): Promise<ReloadOutcome> => {
        const run = queue.then(() => reloadOnce(ctx)).catch((e: unknown) => {
          const message = `metadata reload failed unexpectedly; still serving ${short(served.fingerprint)}:\n${errorOf(e).stack ?? errorOf(e).message}`;
          print.error(message);
          return { result: 'refused' as const, message, ms: 0, error: errorOf(e) };
        }).then((outcome) => {
          for (const l of listeners) l(outcome);
          return outcome;
        });
        queue = run;
        return run;
      };
      ctx.hook('kernel:ready', async () => {
        watcher = watchMetadata({
          dir: options.metadataDir,
          onChange: async () => void (await reload()),
          onError: (e) => print.error(`metadata watch: ${e.message}`),
          ...(options.debounceMs ? { debounceMs: options.debounceMs } : {}),
        });
        await watcher.ready;
      });
      ctx.registerService<HotReload>('hotReload', {
        reload,
        onReload(listener) {
          listeners.add(listener);
          return () => void listeners.delete(listener);
        },
        retired: () => retirees.size,
      });
    },
    async destroy() {
      await watcher?.close();
      await queue;
      await Promise.all([...retirees.keys()].map(dispose));
    },
  };
}
