import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

const METADATA_FILE = /\.ya?ml$/i;

export interface MetadataWatch {
  /** Resolves once every folder is watched. */
  ready: Promise<void>;
  /** Stops watching; resolves once a call of `onChange` in progress has ended. */
  close(): Promise<void>;
}

export interface WatchMetadataOptions {
  dir: string;
  /**
   * Called once the edits settle, with what changed (relative to `dir`). Never twice at once: a change
   * made while it runs calls it once more after it.
   */
  onChange(changed: string[]): Promise<void>;
  onError(error: Error): void;
  /** Quiet time after the last change, so an editor's several writes make one reload. @default 200 */
  debounceMs?: number;
}

/**
 * Watches a metadata folder and its subfolders for `*.yaml`/`*.yml` changes. One watcher per folder
 * (not `recursive: true`: on Linux, Node 20 watches each file there, and loses a file an editor saves
 * by writing a new one and renaming it over the old, as `sed -i` and "safe write" editors do).
 */
export function watchMetadata(options: WatchMetadataOptions): MetadataWatch {
  const { dir: root, onChange, onError, debounceMs = 200 } = options;
  const watchers = new Map<string, FSWatcher>();
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let closed = false;
  const run = () => {
    timer = null;
    // Running: its end schedules the next one, with whatever arrived meanwhile.
    if (running || closed || pending.size === 0) return;
    const changed = [...pending].sort();
    pending = new Set();
    running = onChange(changed)
      .catch((e: unknown) => onError(e instanceof Error ? e : new Error(String(e))))
      .finally(() => {
        running = null;
        if (pending.size > 0) schedule();
      });
  };
  const schedule = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, debounceMs);
    timer.unref();
  };
  const changed = (path: string) => {
    pending.add(relative(root, path) || '.');
    schedule();
  };
  const forget = (dir: string) => {
    for (const [path, w] of watchers)
      if (path === dir || path.startsWith(dir + sep)) {
        w.close();
        watchers.delete(path);
      }
  };
  // A folder created, moved in or moved out may hold metadata: watched (or forgotten) with what it holds, and reloaded.
  const folderEvent = async (path: string) => {
    const isDir = await stat(path).then((s) => s.isDirectory(), () => false);
    if (isDir && !watchers.has(path)) {
      await add(path);
      changed(path);
    } else if (!isDir && watchers.has(path)) {
      forget(path);
      changed(path);
    }
  };
  const add = async (dir: string): Promise<void> => {
    if (closed || watchers.has(dir)) return;
    let w: FSWatcher;
    try {
      // Not persistent: the server keeps the process alive, the watchers alone must not.
      w = watch(dir, { persistent: false }, (event, name) => {
        if (!name) return;
        const path = join(dir, name);
        if (METADATA_FILE.test(name)) changed(path);
        else if (event === 'rename') void folderEvent(path).catch((e: unknown) => onError(e instanceof Error ? e : new Error(String(e))));
      });
    } catch (e) {
      // Gone before it could be watched (removed at once): nothing to watch.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    w.on('error', (e) => {
      forget(dir);
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') onError(e);
    });
    watchers.set(dir, w);
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) await add(join(dir, entry.name));
  };
  const ready = add(root).catch((e: unknown) => onError(e instanceof Error ? e : new Error(String(e))));
  return {
    ready,
    async close() {
      closed = true;
      await ready;
      if (timer) clearTimeout(timer);
      forget(root);
      await running;
    },
  };
}
