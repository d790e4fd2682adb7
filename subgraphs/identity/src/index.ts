export { createIdentitySubgraph, type DemoAccount, type IdentitySubgraph, type IdentitySubgraphOptions } from './create-identity-subgraph.ts';
export { API_KEY_PREFIX } from './create-auth.ts';
export { passwordProblems } from './password-policy.ts';
export { securityNamesOf, type SecurityNames } from './identity-schema.ts';
export { originsOf } from './origin-rule.ts';
