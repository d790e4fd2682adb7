export { createIdentitySubgraph, CREDENTIAL_HEADERS, PRINCIPAL_ENDPOINT, type DemoAccount, type IdentitySubgraph, type IdentitySubgraphOptions } from './create-identity-subgraph.ts';
export { API_KEY_HEADER, API_KEY_PREFIX, CLIENT_IP_HEADER } from './create-auth.ts';
export { hasCredentials, type AuthFailure, type Resolution } from './resolve-principal.ts';
export { passwordProblems } from './password-policy.ts';
