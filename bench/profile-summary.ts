import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Summarises the newest V8 CPU profile in bench/results/profiles (written by BENCH_PROFILE=1 npm run bench):
 * self time by package and by function. Run: node --import @objectos/runtime/register bench/profile-summary.ts [file]
 */
interface Node { id: number; callFrame: { functionName: string; url: string } }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }

const dir = new URL('./results/profiles/', import.meta.url).pathname;
const file = process.argv[2] ?? join(dir, readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort().at(-1)!);
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const time = new Map<number, number>();
p.samples.forEach((id, i) => time.set(id, (time.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
const where = (url: string): string => {
  const m = /node_modules\/\.pnpm\/(@?[^@/]+(?:\+[^@/]+)?)@/.exec(url);
  if (m) return m[1]!.replace('+', '/');
  if (url.includes('/work/') || url.includes('/subgraphs/') || url.includes('/gateway/')) return `objectos:${url.replace(/.*\/(gateway|subgraphs|schema|packages)\//, '$1/')}`;
  return url.startsWith('node:') ? 'node internals' : url || '(vm)';
};
const byPkg = new Map<string, number>();
const byFn = new Map<string, number>();
let total = 0;
let idle = 0;
for (const n of p.nodes) {
  const t = time.get(n.id) ?? 0;
  // Shares are of the busy time: idle (waiting for I/O, or for the other targets' runs) is left out.
  if (n.callFrame.functionName === '(idle)') {
    idle += t;
    continue;
  }
  total += t;
  const pkg = n.callFrame.url ? where(n.callFrame.url) : n.callFrame.functionName;
  byPkg.set(pkg.startsWith('objectos:') ? 'objectos' : pkg, (byPkg.get(pkg.startsWith('objectos:') ? 'objectos' : pkg) ?? 0) + t);
  const fn = `${n.callFrame.functionName || '(anonymous)'} — ${pkg}`;
  byFn.set(fn, (byFn.get(fn) ?? 0) + t);
}
const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`).join('\n');
console.log(`${file}\n${(total / 1e6).toFixed(1)} s busy (shares below), ${(idle / 1e6).toFixed(1)} s idle\n\nSelf time by package:\n${top(byPkg, 15)}\n\nSelf time by function:\n${top(byFn, 20)}`);
