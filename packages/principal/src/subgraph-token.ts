import { createHash, createPrivateKey, createPublicKey, hkdfSync, type KeyObject } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';
import { isInternalAudience } from './audience.ts';
import { isPrincipal, type Principal } from './principal.ts';

/**
 * Identity for external subgraphs without a shared secret. The gateway signs, per call, a short-lived
 * JWT (EdDSA, Ed25519) for the one subgraph it calls: `aud` is that subgraph's name, `iss` the gateway's
 * public URL, `principal` the caller. The public keys are served at {@link JWKS_PATH}; a subgraph checks
 * tokens with {@link createSubgraphTokenVerifier} (or any JOSE library). Internal subgraphs accept only
 * HMAC signatures under keys derived from OBJECTOS_SECRET (sign.ts), so nothing an external subgraph
 * receives is worth anything to them, and a token for one external subgraph is refused by another.
 */
export const JWKS_PATH = '/.well-known/jwks.json';
/** The claim holding the principal (the same object internal subgraphs receive). */
export const PRINCIPAL_CLAIM = 'objectos_principal';
/** Lifetime of one token. @default 60 s */
export const SUBGRAPH_TOKEN_TTL_S = 60;

export interface SubgraphTokenIssuer {
  /** The key id in every token's header and in the JWKS. */
  readonly kid: string;
  /** What {@link JWKS_PATH} serves: the public key(s) tokens are checked with. */
  jwks(): { keys: JWK[] };
  /** A token for `audience` (an external subgraph's name) acting as `principal`. */
  token(principal: Principal, audience: string): Promise<string>;
  /** The same from a principal as the gateway's headers carry it (base64url JSON), decoded only on a miss. */
  tokenForPayload(payload: string, audience: string): Promise<string>;
}

export interface SubgraphTokenIssuerOptions {
  /** OBJECTOS_SECRET: the Ed25519 key is derived from it, so every replica signs with, and serves, the same key. */
  secret: string;
  /** `iss` of every token: the gateway's public URL. */
  issuer: string;
  /** @default SUBGRAPH_TOKEN_TTL_S */
  ttlSeconds?: number;
}

// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The gateway's Ed25519 key pair, derived from the secret (HKDF-SHA256, its own purpose label). */
export function deriveSigningKey(secret: string): { privateKey: KeyObject; publicKey: KeyObject; kid: string } {
  const seed = Buffer.from(hkdfSync('sha256', secret, 'objectos', 'subgraph-token:ed25519', 32));
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  const raw = publicKey.export({ format: 'jwk' }).x as string;
  const kid = createHash('sha256').update(raw).digest('base64url').slice(0, 16);
  return { privateKey, publicKey, kid };
}

export function createSubgraphTokenIssuer({ secret, issuer, ttlSeconds = SUBGRAPH_TOKEN_TTL_S }: SubgraphTokenIssuerOptions): SubgraphTokenIssuer {
  const { privateKey, publicKey, kid } = deriveSigningKey(secret);
  const jwk: JWK = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: 'EdDSA', use: 'sig' };
  // A token is reused for half its life: signing per call would cost an Ed25519 signature each time.
  const cache = new Map<string, { token: string; renewAt: number }>();
  const sign = async (principal: Principal, audience: string): Promise<string> => {
    if (isInternalAudience(audience)) throw new Error(`"${audience}" is an internal subgraph: it is called with HMAC signatures, never with a token`);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ [PRINCIPAL_CLAIM]: principal as unknown as Record<string, unknown> })
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(principal.userId ?? principal.kind)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .sign(privateKey);
  };
  const cached = async (key: string, audience: string, principal: () => Principal): Promise<string> => {
    const k = `${audience}\n${key}`;
    const hit = cache.get(k);
    if (hit && hit.renewAt > Date.now()) return hit.token;
    const token = await sign(principal(), audience);
    if (cache.size >= 10_000) cache.clear();
    cache.set(k, { token, renewAt: Date.now() + (ttlSeconds * 1000) / 2 });
    return token;
  };
  return {
    kid,
    jwks: () => ({ keys: [jwk] }),
    token: (principal, audience) => cached(`j:${JSON.stringify(principal)}`, audience, () => principal),
    // Keyed by the payload itself: decoded only when a token has to be signed.
    tokenForPayload: (payload, audience) =>
      cached(`p:${payload}`, audience, () => {
        const p: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString());
        if (!isPrincipal(p)) throw new Error('the principal of a subgraph call is malformed');
        return p;
      }),
  };
}
