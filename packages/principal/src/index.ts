export { ANONYMOUS, SYSTEM, freezePrincipal, guestPrincipal, isFrozenPrincipal, isPrincipal, sameIdentity, type Principal } from './principal.ts';
export { AUDIENCE_PATTERN, INTERNAL_AUDIENCES, audienceKey, deriveKey, isInternalAudience, type InternalAudience } from './audience.ts';
export {
  DEFAULT_MAX_AGE_MS, PRINCIPAL_HEADER, SIGNATURE_HEADER, bodyDigest, encodePrincipal, principalJson, signPayload, signPrincipal, verifyPrincipal,
  type BodyBytes, type RequestBinding, type VerifyOptions, type VerifyResult,
} from './sign.ts';
export { signInit, signRequest, verifyRequest, type VerifyRequestOptions } from './signed-request.ts';
export { createMemoryReplayStore, createRedisReplayStore, createReplayStore, type RedisReplayStoreOptions, type ReplayStore } from './replay-store.ts';
export { principalOf, unauthorizedResponse, usePrincipalGuard, type PrincipalGuardOptions } from './use-principal-guard.ts';
export { remotePrincipalResolver, type ResolvePrincipal } from './remote-principal.ts';
export {
  API_KEY_HEADER, AUDIT_EVENTS_ENDPOINT, AUDIT_EXPORT_ENDPOINT, CLIENT_AGENT_HEADER, CLIENT_IP_HEADER, METADATA_ENDPOINT, PRINCIPAL_ENDPOINT, STREAM_HEADER, SUBSCRIPTION_ACCESS_ENDPOINT, credentialsOf, hasCredentials,
  type AuthFailure, type Credentials, type Resolution,
} from './credentials.ts';
export {
  JWKS_PATH, PRINCIPAL_CLAIM, SUBGRAPH_TOKEN_TTL_S, createSubgraphTokenIssuer, deriveSigningKey,
  type SubgraphTokenIssuer, type SubgraphTokenIssuerOptions,
} from './subgraph-token.ts';
export { createSubgraphTokenVerifier, principalOfToken, useSubgraphToken, type SubgraphTokenVerifierOptions, type TokenCheck } from './subgraph-token-verifier.ts';
export { principalGuardPlugin } from './plugin.ts';
