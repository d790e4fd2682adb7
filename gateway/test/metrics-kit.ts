import { expect } from 'vitest';

/** One sample line of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a scrape (comments skipped); fails on a line that is not one. */
export function parseScrape(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    expect(m, `a sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const [, k, v] of m![2]?.matchAll(LABEL) ?? []) labels[k!] = v!.replace(/\\(.)/g, '$1');
    samples.push({ name: m![1]!, labels, value: Number(m![3]) });
  }
  return samples;
}

/** The sum of the samples of `name` whose labels include `labels`. */
export const total = (samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);

/** The samples of `name`. */
export const seriesOf = (samples: readonly Sample[], name: string): Sample[] => samples.filter((s) => s.name === name);

/**
 * Label values that would be an unbounded dimension: UUIDs, long opaque ids or tokens (better-auth's are
 * 32 random letters and digits, mixed case), long hex strings, emails, and id-like runs of digits.
 */
export const ID_LIKE = [
  /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i,
  /(?=[\w-]*\d)(?=[\w-]*[a-z])(?=[\w-]*[A-Z])[\w-]{20,}/,
  /[0-9a-f]{16,}/i,
  /@/,
  /\d{7,}/,
];

/** Signs a new user up and creates their organization; returns their bearer header. */
export async function signUp(origin: string, email: string, password: string): Promise<{ authorization: string }> {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${origin}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const up = await post('/sign-up/email', { email, password, name: 'Metrics' });
  expect(up.status, await up.clone().text()).toBe(200);
  const authorization = `Bearer ${up.headers.get('set-auth-token')!}`;
  const slug = `metrics-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  expect((await post('/organization/create', { name: 'Metrics', slug }, { authorization })).status).toBe(200);
  return { authorization };
}

/** POSTs one GraphQL operation; status and body. */
export async function post(url: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; body: { data?: Record<string, unknown> | null; errors?: { extensions?: Record<string, unknown> }[] } }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as { data?: Record<string, unknown> | null; errors?: { extensions?: Record<string, unknown> }[] } };
}
