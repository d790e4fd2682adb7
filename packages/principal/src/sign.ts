import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { isPrincipal, type Principal } from './principal.ts';

export const PRINCIPAL_HEADER = 'x-objectos-principal';
export const SIGNATURE_HEADER = 'x-objectos-signature';

/** Past this age a signature is stale: an old captured request cannot be replayed. @default 30 s */
export const DEFAULT_MAX_AGE_MS = 30_000;
/** Clocks of gateway and subgraph may differ a little. */
const CLOCK_SKEW_MS = 5_000;

/**
 * Separate keys for separate jobs, all derived from the one configured secret (HKDF-SHA256), so a
 * leak of one derived key (say, a subgraph's signing key) does not give away the others.
 */
export function deriveKey(secret: string, purpose: 'principal-hmac' | 'better-auth'): string {
  if (secret.length < 32) throw new Error('OBJECTOS_SECRET must be at least 32 characters');
  return Buffer.from(hkdfSync('sha256', secret, 'objectos', purpose, 32)).toString('base64url');
}

const mac = (key: string, ts: number, payload: string): string =>
  createHmac('sha256', key).update(`${ts}.${payload}`).digest('base64url');

/** Headers that carry the principal to a subgraph: the principal (base64url JSON) and `t=<ms>,v1=<hmac>`. */
export function signPrincipal(principal: Principal, key: string, now = Date.now()): Record<string, string> {
  const payload = Buffer.from(JSON.stringify(principal)).toString('base64url');
  return { [PRINCIPAL_HEADER]: payload, [SIGNATURE_HEADER]: `t=${now},v1=${mac(key, now, payload)}` };
}

export type VerifyResult = { ok: true; principal: Principal } | { ok: false; reason: string };

interface HeaderSource {
  get(name: string): string | null;
}

/** Checks a request's principal: present, signed with our key, fresh, well formed. */
export function verifyPrincipal(headers: HeaderSource, key: string, options: { maxAgeMs?: number; now?: number } = {}): VerifyResult {
  const { maxAgeMs = DEFAULT_MAX_AGE_MS, now = Date.now() } = options;
  const payload = headers.get(PRINCIPAL_HEADER);
  const signature = headers.get(SIGNATURE_HEADER);
  if (!payload || !signature) return { ok: false, reason: 'missing gateway signature' };
  const m = /^t=(\d{1,15}),v1=([A-Za-z0-9_-]{43})$/.exec(signature);
  if (!m) return { ok: false, reason: 'malformed gateway signature' };
  const ts = Number(m[1]);
  const expected = Buffer.from(mac(key, ts, payload));
  const given = Buffer.from(m[2]!);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'invalid gateway signature' };
  // Checked after the MAC, so an attacker learns nothing about timing windows without the key.
  if (ts > now + CLOCK_SKEW_MS) return { ok: false, reason: 'gateway signature from the future' };
  if (now - ts > maxAgeMs) return { ok: false, reason: 'stale gateway signature' };
  let principal: unknown;
  try {
    principal = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed principal' };
  }
  if (!isPrincipal(principal)) return { ok: false, reason: 'malformed principal' };
  return { ok: true, principal };
}
