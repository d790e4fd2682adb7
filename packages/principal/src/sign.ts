import { createHash, createHmac, createSecretKey, randomFillSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { AUDIENCE_PATTERN } from './audience.ts';
import { freezePrincipal, isFrozenPrincipal, isPrincipal, type Principal } from './principal.ts';

export const PRINCIPAL_HEADER = 'x-objectos-principal';
export const SIGNATURE_HEADER = 'x-objectos-signature';

/** Past this age a signature is stale: an old captured request cannot be replayed. @default 30 s */
export const DEFAULT_MAX_AGE_MS = 30_000;
/** Clocks of gateway and subgraph may differ a little. */
const CLOCK_SKEW_MS = 5_000;
/** Names the signed string's layout: a change of layout must never verify under the old one. */
const SCHEME = 'objectos-principal/2';
const SIGNATURE = /^t=(\d{1,15}),n=([A-Za-z0-9_-]{22}),a=([A-Za-z0-9_.-]{1,64}),d=([A-Za-z0-9_-]{43}),v1=([A-Za-z0-9_-]{43})$/;

export type BodyBytes = string | ArrayBuffer | ArrayBufferView | null | undefined;

/** What a signature is bound to besides the principal: the one subgraph that may accept it, and the call. */
export interface RequestBinding {
  /** The subgraph's name: its key signs, and only it accepts. */
  audience: string;
  method: string;
  /** The URL called; its path and query are signed (not the host: proxies and in-process routing differ). */
  url: string | URL;
  /** The exact bytes sent; absent or null is the empty body (GET). */
  body?: BodyBytes;
}

/** sha256 of a body, base64url; the empty body has one too (GET requests). */
export function bodyDigest(body: BodyBytes): string {
  const h = createHash('sha256');
  if (typeof body === 'string') h.update(body, 'utf8');
  else if (body instanceof ArrayBuffer) h.update(new Uint8Array(body));
  else if (body) h.update(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
  return h.digest('base64url');
}

const jsonOf = new WeakMap<Principal, string>();
const payloadOf = new WeakMap<Principal, string>();

/** A principal's JSON: a stable key for it. Computed once per frozen principal (it cannot change after). */
export function principalJson(principal: Principal): string {
  let json = jsonOf.get(principal);
  if (json === undefined) {
    json = JSON.stringify(principal);
    if (isFrozenPrincipal(principal)) jsonOf.set(principal, json);
  }
  return json;
}

/** The principal as a header carries it (base64url JSON); computed once per frozen principal. */
export function encodePrincipal(principal: Principal): string {
  let payload = payloadOf.get(principal);
  if (payload === undefined) {
    payload = Buffer.from(principalJson(principal)).toString('base64url');
    if (isFrozenPrincipal(principal)) payloadOf.set(principal, payload);
  }
  return payload;
}

/**
 * 16 random bytes per nonce, drawn from a buffer the CSPRNG refills 256 nonces at a time: one
 * `randomBytes(16)` per call cost more than the HMAC (a call into OpenSSL and a new Buffer each).
 */
const randomPool = Buffer.alloc(16 * 256);
let poolOffset = randomPool.length;
function newNonce(): string {
  if (poolOffset === randomPool.length) {
    randomFillSync(randomPool);
    poolOffset = 0;
  }
  const nonce = randomPool.toString('base64url', poolOffset, poolOffset + 16);
  poolOffset += 16;
  return nonce;
}

/** HMAC keys as KeyObjects, made once per key (a handful: one per audience). */
const keyObjects = new Map<string, KeyObject>();
function keyObject(key: string): KeyObject {
  let k = keyObjects.get(key);
  if (!k) {
    if (keyObjects.size >= 64) keyObjects.clear();
    keyObjects.set(key, (k = createSecretKey(Buffer.from(key, 'utf8'))));
  }
  return k;
}

/**
 * Principals already decoded, by the exact payload a valid signature covered: every request acting as
 * the same principal shares one frozen object (and its JSON key), without a base64 decode and a parse.
 * Only payloads whose MAC verified get here, so nobody without the key can fill it.
 */
const decoded = new Map<string, Principal>();
const DECODED_MAX = 1024;
function decodePrincipal(payload: string): Principal | null {
  const hit = decoded.get(payload);
  if (hit) return hit;
  let principal: unknown;
  try {
    principal = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!isPrincipal(principal)) return null;
  const frozen = freezePrincipal(principal);
  if (decoded.size >= DECODED_MAX) decoded.delete(decoded.keys().next().value!);
  decoded.set(payload, frozen);
  return frozen;
}

const targetOf = (url: string | URL): string => {
  const u = new URL(url, 'http://objectos.invalid');
  return u.pathname + u.search;
};

interface Claims {
  ts: number;
  nonce: string;
  audience: string;
  digest: string;
}

const mac = (key: string, c: Claims, method: string, target: string, payload: string): string =>
  createHmac('sha256', keyObject(key))
    .update([SCHEME, c.audience, c.ts, c.nonce, method.toUpperCase(), target, c.digest, payload].join('\n'))
    .digest('base64url');

/** {@link signPrincipal} for an already encoded principal (the gateway's executor passes it as a header). */
export function signPayload(payload: string, key: string, binding: RequestBinding, options: { now?: number; nonce?: string } = {}): Record<string, string> {
  const { now = Date.now(), nonce = newNonce() } = options;
  if (!AUDIENCE_PATTERN.test(binding.audience)) throw new Error(`"${binding.audience}" cannot be a signature audience`);
  const claims: Claims = { ts: now, nonce, audience: binding.audience, digest: bodyDigest(binding.body) };
  const v1 = mac(key, claims, binding.method, targetOf(binding.url), payload);
  return { [PRINCIPAL_HEADER]: payload, [SIGNATURE_HEADER]: `t=${now},n=${nonce},a=${claims.audience},d=${claims.digest},v1=${v1}` };
}

/**
 * Headers that carry the principal to one subgraph for one call: the principal (base64url JSON) and
 * `t=<ms>,n=<nonce>,a=<audience>,d=<sha256 of the body>,v1=<hmac>`. The HMAC (with the audience's
 * key) covers audience, time, nonce, method, path and query, body digest and principal; the random
 * nonce makes every signature unique, so a subgraph can accept each one once.
 */
export function signPrincipal(principal: Principal, key: string, binding: RequestBinding, options: { now?: number; nonce?: string } = {}): Record<string, string> {
  return signPayload(encodePrincipal(principal), key, binding, options);
}

export type VerifyResult =
  | { ok: true; principal: Principal; /** Unique per signature: what single use remembers. */ nonce: string; /** When it goes stale (ms). */ expiresAt: number }
  | { ok: false; reason: string };

export interface VerifyOptions {
  /** @default DEFAULT_MAX_AGE_MS */
  maxAgeMs?: number;
  now?: number;
}

interface HeaderSource {
  get(name: string): string | null;
}

export type Checked = Extract<VerifyResult, { ok: true }> & { digest: string };
const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/**
 * Everything but the body: present, for this audience, signed with its key for this method and
 * path (and the body digest the header claims), fresh, well formed. Cheap, so a request nobody
 * signed is refused before its body is read.
 */
export function checkSignature(headers: HeaderSource, key: string, binding: Omit<RequestBinding, 'body'>, options: VerifyOptions = {}): Checked | { ok: false; reason: string } {
  const { maxAgeMs = DEFAULT_MAX_AGE_MS, now = Date.now() } = options;
  const payload = headers.get(PRINCIPAL_HEADER);
  const signature = headers.get(SIGNATURE_HEADER);
  if (!payload || !signature) return fail('missing gateway signature');
  const m = SIGNATURE.exec(signature);
  if (!m) return fail('malformed gateway signature');
  const claims: Claims = { ts: Number(m[1]), nonce: m[2]!, audience: m[3]!, digest: m[4]! };
  // The audience is not secret; naming it tells an operator which subgraph a header was meant for.
  if (claims.audience !== binding.audience) return fail(`gateway signature is for subgraph "${claims.audience}", not "${binding.audience}"`);
  const expected = Buffer.from(mac(key, claims, binding.method, targetOf(binding.url), payload));
  const given = Buffer.from(m[5]!);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return fail('invalid gateway signature (another key, method, path or principal)');
  // Checked after the MAC, so an attacker learns nothing about timing windows without the key.
  if (claims.ts > now + CLOCK_SKEW_MS) return fail('gateway signature from the future');
  if (now - claims.ts > maxAgeMs) return fail('stale gateway signature');
  const principal = decodePrincipal(payload);
  if (!principal) return fail('malformed principal');
  return { ok: true, principal, nonce: claims.nonce, expiresAt: claims.ts + maxAgeMs, digest: claims.digest };
}

export const ANOTHER_BODY = 'gateway signature is for another body';

/**
 * Checks a call's principal against the call itself: present, for this audience, signed with its
 * key over this method, path, query and body, fresh, well formed. Single use is the caller's
 * (see `verifyRequest`, which also remembers nonces).
 */
export function verifyPrincipal(headers: HeaderSource, key: string, binding: RequestBinding, options: VerifyOptions = {}): VerifyResult {
  const checked = checkSignature(headers, key, binding, options);
  if (!checked.ok) return checked;
  if (bodyDigest(binding.body) !== checked.digest) return fail(ANOTHER_BODY);
  return { ok: true, principal: checked.principal, nonce: checked.nonce, expiresAt: checked.expiresAt };
}
