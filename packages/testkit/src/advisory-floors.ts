/**
 * Lowest safe version of packages with known advisories (`npm audit` is not available from this
 * registry, so the check is ours). A package absent from the lockfile is not checked; once it is
 * installed, every version of it must meet its floor. Sources: shared/reference/security-reliability.md.
 */
export const ADVISORY_FLOORS: Record<string, { min: string; why: string }> = {
  'better-auth': { min: '1.4.17', why: 'CVE-2025-61928, GHSA-569q-mpph-wgww, GHSA-x732-6j76-qmhm, GHSA-xg6x-h9c9-2m83, CVE-2026-45364' },
  ws: { min: '8.17.1', why: 'GHSA-3h5v-q93c-6h6q (DoS through many headers)' },
  '@escape.tech/graphql-armor-max-depth': { min: '2.4.2', why: 'fragment-cache and __schema-named fragment depth bypasses' },
  '@escape.tech/graphql-armor-cost-limit': { min: '2.4.1', why: 'GHSA-733v-p3h5-qpq7 (__schema-named operation skipped costing)' },
  '@escape.tech/graphql-armor-max-aliases': { min: '2.6.0', why: 'allowList option, needed to count __typename aliases' },
};

/** Every version of every package in a pnpm v9 lockfile (`name@version:` keys under `packages:`). */
export function lockedVersions(lockfile: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const section = lockfile.split(/^packages:$/m)[1]?.split(/^snapshots:$/m)[0] ?? '';
  for (const m of section.matchAll(/^ {2}'?((?:@[^@/\s]+\/)?[^@\s']+)@(\d+\.\d+\.\d+[^:'\s(]*)'?:/gm)) {
    const [, name, version] = m as unknown as [string, string, string];
    if (!out.has(name)) out.set(name, new Set());
    out.get(name)!.add(version);
  }
  return out;
}

/** Semver comparison of plain x.y.z versions (pre-release suffixes count as lower). */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core = '', pre] = v.split('-', 2);
    return { parts: core.split('.').map(Number), pre };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) if ((x.parts[i] ?? 0) !== (y.parts[i] ?? 0)) return (x.parts[i] ?? 0) - (y.parts[i] ?? 0);
  if (x.pre && !y.pre) return -1;
  if (!x.pre && y.pre) return 1;
  return 0;
}

/** Packages below their floor, as readable lines (empty when all is well). */
export function floorViolations(lockfile: string, floors = ADVISORY_FLOORS): string[] {
  const locked = lockedVersions(lockfile);
  const out: string[] = [];
  for (const [name, { min, why }] of Object.entries(floors))
    for (const v of locked.get(name) ?? []) if (compareVersions(v, min) < 0) out.push(`${name}@${v} is below ${min} (${why})`);
  return out;
}
