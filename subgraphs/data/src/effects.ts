import type { Principal } from '@objectos/principal';
import type { WriteEffect } from './data-source.ts';

const KEY_MAX = 512;

/**
 * The write effect a request asks for, in `extensions.objectos` of its GraphQL body (which the gateway
 * signature covers): `{ effectKey, automation: { rule, action, depth } }`. Only the runtime asks: the
 * automation worker and the flow runner, as the system or as the user a rule or flow runs as. The gateway
 * never forwards a client's extensions (it sends subgraphs a body of its own), so a signed request that
 * carries one comes from the runtime; from an API key or anonymous it is ignored anyway, and a malformed
 * one is refused.
 */
export function effectOf(principal: Principal, extensions: unknown): WriteEffect | null {
  const x = (extensions as { objectos?: unknown } | null | undefined)?.objectos;
  if (x === undefined || (principal.kind !== 'system' && principal.kind !== 'user')) return null;
  const o = x as { effectKey?: unknown; automation?: unknown; transition?: unknown };
  // A transition alone (the workflow subgraph's) is not a keyed effect: see transitionOf.
  if (typeof o === 'object' && o !== null && o.effectKey === undefined && o.transition !== undefined) return null;
  if (typeof o !== 'object' || o === null || typeof o.effectKey !== 'string' || o.effectKey.length === 0 || o.effectKey.length > KEY_MAX)
    throw new Error(`extensions.objectos.effectKey must be a string of 1 to ${KEY_MAX} characters`);
  const a = o.automation as { rule?: unknown; action?: unknown; depth?: unknown } | null | undefined;
  if (a === undefined || a === null) return { key: o.effectKey, automation: null };
  if (typeof a.rule !== 'string' || typeof a.action !== 'string' || !Number.isInteger(a.depth) || (a.depth as number) < 1 || (a.depth as number) > 100)
    throw new Error('extensions.objectos.automation must be { rule, action, depth 1..100 }');
  return { key: o.effectKey, automation: { rule: a.rule, action: a.action, depth: a.depth as number } };
}
