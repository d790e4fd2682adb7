import { hkdfSync } from 'node:crypto';

/**
 * ObjectOS's own subgraphs, by the name they are composed under. Only these names get internal keys:
 * any other subgraph given to the gateway (a team's billing service, say) is external and is signed
 * with a key from a separate derivation namespace, so nothing it receives is accepted by `data`,
 * `identity`, `audit`, `automation` or `workflow`. (Composition refuses two subgraphs of one name, so an external one cannot take these.)
 */
export const INTERNAL_AUDIENCES = ['data', 'identity', 'audit', 'automation', 'workflow', 'metrics'] as const;
export type InternalAudience = (typeof INTERNAL_AUDIENCES)[number];

/** Subgraph names as they appear in signatures: what the header grammar accepts. */
export const AUDIENCE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export const isInternalAudience = (name: string): name is InternalAudience => (INTERNAL_AUDIENCES as readonly string[]).includes(name);

/**
 * Separate keys for separate jobs, all derived from the one configured secret (HKDF-SHA256), so a
 * leak of one derived key (say, a subgraph's signing key) does not give away the others.
 */
export function deriveKey(secret: string, purpose: 'better-auth' | 'webhooks' | 'scim-tokens' | `principal-hmac:${string}`): string {
  if (secret.length < 32) throw new Error('OBJECTOS_SECRET must be at least 32 characters');
  return Buffer.from(hkdfSync('sha256', secret, 'objectos', purpose, 32)).toString('base64url');
}

/**
 * The key the gateway signs calls to `audience` with, and the only key that subgraph accepts.
 * Internal: `principal-hmac:<name>`; external: `principal-hmac:external:<name>` (never equal to an
 * internal purpose, whatever the name). An external team gets its own key from the operator, never
 * OBJECTOS_SECRET.
 */
export function audienceKey(secret: string, audience: string): string {
  if (!AUDIENCE_PATTERN.test(audience)) throw new Error(`subgraph name "${audience}" cannot be a signature audience (letters, digits, _ . - only)`);
  return deriveKey(secret, isInternalAudience(audience) ? `principal-hmac:${audience}` : `principal-hmac:external:${audience}`);
}
