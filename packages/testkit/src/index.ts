export { services } from './services.ts';
export { createTestDatabase, type TestDatabase } from './pg.ts';
export { engines, type Engine, type EngineHandle } from './engines.ts';
export { gql, gqlOk, signIn, withHeaders, type GraphQLResult, type FetchHandler } from './graphql.ts';
export { freePort, spawnTs, REPO_ROOT, type Spawned } from './process.ts';
export { ADVISORY_FLOORS, compareVersions, floorViolations, lockedVersions } from './advisory-floors.ts';
export { signedFetch, TEST_ORG, TEST_SECRET, testAuth, testPrincipal } from './principals.ts';
export { subscribeSse, type SseSubscription } from './sse.ts';
export { startMailCatcher, type CaughtMail, type MailCatcher } from './mail.ts';
