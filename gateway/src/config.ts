import { resolve } from 'node:path';
import { originsOf } from '@objectos/identity-subgraph/origin-rule';
import { socialFromEnv, ssoDomainVerificationFromEnv, type SocialConfig } from '@objectos/identity-subgraph/social-config';
import { deliveryConfigFromEnv, type DeliveryConfig } from '@objectos/automation-subgraph';
import { metricsSettingsFromEnv, type MetricsSettings } from '@objectos/observability';

/** Runtime configuration, from the environment (and `--empty`); every setting has a safe default. */
export interface ObjectOSConfig {
  /**
   * `objectos` (default): ObjectOS with its subgraphs. `gateway`: the gateway alone, a plain Federation
   * gateway over OBJECTOS_SUPERGRAPH or the OBJECTOS_SUBGRAPHS list (ObjectOS's own subgraphs optional).
   */
  mode: 'objectos' | 'gateway';
  /** A supergraph to serve as given (gateway mode): a file path or an http(s) URL, polled for changes. */
  supergraph: string | undefined;
  /** How requests are authenticated: ObjectOS sessions and API keys, JWTs from a JWKS, or none (private networks). */
  auth: 'objectos' | 'jwt' | 'none';
  /** JWT mode: the identity provider's JWKS URL, and the `iss`/`aud` a token must carry (when set). */
  jwt: { jwksUrl: string; issuer: string | undefined; audience: string | undefined; organizationClaim: string; rolesClaim: string } | undefined;
  /** How often subgraph SDLs (or the supergraph) are polled for changes, in ms; 0: never. */
  pollMs: number;
  /** Prefix of every GraphQL name the data subgraph generates (OBJECTOS_NAME_PREFIX), if any. */
  namePrefix: string | undefined;
  /** How operations across subgraphs run: schema stitching, or Hive's Rust query planner. */
  queryPlanner: 'stitching' | 'rust';
  host: string;
  port: number;
  metadataDir: string;
  /** PostgreSQL URL; unset means the embedded engine (PGlite). */
  databaseUrl: string | undefined;
  dataDir: string;
  seed: boolean;
  graphiql: boolean;
  /** Schema introspection and field suggestions; on in development only, unless set. */
  introspection: boolean;
  /** File of trusted documents (hash → text, as codegen writes persisted-documents.json); only these run. */
  trustedDocumentsFile: string | undefined;
  /** Longest wait for one subgraph call. */
  subgraphTimeoutMs: number;
  /** Longest time one SQL statement may run (PostgreSQL only). */
  statementTimeoutMs: number;
  /** OBJECTOS_PLUGIN_TIMEOUT_MS: longest init + start of one plugin (migrations included). @default 60000 */
  pluginTimeoutMs: number;
  /** OBJECTOS_SHUTDOWN_TIMEOUT_MS: on SIGTERM, how long requests in flight may take to finish. @default 10000 */
  shutdownTimeoutMs: number;
  /** Cost limit of one operation (objects × assumed list sizes); Infinity when OBJECTOS_MAX_COST=0. */
  maxCost: number;
  /** Requests per minute per client IP (IPv6 by /64); 0 turns limiting off. */
  rateLimitPerMinute: number;
  /** OBJECTOS_SCIM_RATE_LIMIT: SCIM requests per minute per provisioning token (an identity provider's sync). @default 600 */
  scimRequestsPerMinute: number;
  /** Most records one bulk write (create many, update or delete by filter) may touch. */
  bulkMax: number;
  /** How long published change events are kept, in hours (OBJECTOS_CHANGE_RETENTION_HOURS): how far back a subscription's `after` can replay. */
  changeRetentionHours: number;
  /** The organization (id or slug) whose guest profile serves requests without credentials; null: they get 401. */
  guestOrganization: string | null;
  /** Redis for shared rate limits across replicas; memory when unset. */
  redisUrl: string | undefined;
  /** Trust X-Forwarded-For for the client address (only behind your own proxy). */
  trustProxy: boolean;
  /** Subgraphs served by other processes: name → URL. `data` or `identity` listed here is not embedded. */
  remoteSubgraphs: Record<string, string>;
  /** OBJECTOS_SECRET (≥ 32 characters); when unset outside production, one is generated and kept in `secretFile`. */
  secret: string | undefined;
  secretFile: string;
  /** Public URL of the endpoint (sign-in cookies and origin checks). @default http://localhost:PORT */
  publicUrl: string;
  /** Extra origins allowed to send cookie-authenticated requests (comma-separated). */
  trustedOrigins: string[];
  /**
   * Emails of the platform operators (OBJECTOS_OPERATORS, comma-separated): the only accounts with
   * platform-wide powers (list every user, ban, impersonate…). Applied at each start; nobody by default.
   */
  operators: string[];
  /** Length of an operator's impersonation session in minutes; 0 turns impersonation off. @default 15 */
  impersonationMinutes: number;
  /** How long a resolved session or API key is reused, in ms (revocations evict at once). */
  authCacheMs: number;
  /** SMTP, webhook, push and SMS settings (SMTP_URL, OBJECTOS_MAIL_FROM, OBJECTOS_WEBHOOK_*, OBJECTOS_VAPID_*, OBJECTOS_SMS_*). */
  delivery: DeliveryConfig;
  /** Email one-time codes for verification and sign-in (OBJECTOS_EMAIL_OTP=true); never for accounts with 2FA. */
  emailOtp: boolean;
  /** OBJECTOS_SSO_ISSUERS: origins of the identity providers organizations may register for SSO. */
  ssoIssuers: string[];
  /** OBJECTOS_SSO_DOMAIN_VERIFICATION: an SSO provider signs in only once its domains are proved (DNS TXT). */
  ssoDomainVerification: boolean;
  /** Social sign-in providers (OBJECTOS_GOOGLE_*, OBJECTOS_GITHUB_*, OBJECTOS_MICROSOFT_*, OBJECTOS_OAUTH_*). */
  social: SocialConfig;
  /** BullMQ key prefix (OBJECTOS_JOBS_PREFIX), so deployments sharing a Redis keep their queues apart. */
  jobsPrefix: string | undefined;
  /** Deliver notifications and fire schedules in this process (embedded); false when worker processes do (OBJECTOS_JOBS=off). */
  runJobs: boolean;
  /**
   * Prometheus metrics: `/metrics` on the application port with a bearer token (OBJECTOS_METRICS_TOKEN),
   * and/or an operations port (OBJECTOS_METRICS_PORT, on OBJECTOS_METRICS_HOST) serving it without one.
   */
  metrics: MetricsSettings;
  /**
   * OBJECTOS_WATCH: in development, an edited metadata file is loaded, compiled, migrated and served
   * without a restart (gateway/src/dev/hot-reload.ts). @default true outside production (refused in production)
   */
  watch: boolean;
  production: boolean;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): ObjectOSConfig {
  const production = env['NODE_ENV'] === 'production';
  const port = Number(env['PORT'] ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got "${env['PORT']}"`);
  const remoteSubgraphs: Record<string, string> = {};
  for (const entry of (env['OBJECTOS_SUBGRAPHS'] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, url] = entry.split('=', 2);
    if (!name || !url || !/^https?:\/\//.test(url)) throw new Error(`OBJECTOS_SUBGRAPHS entries are name=http://host:port/graphql, got "${entry}"`);
    remoteSubgraphs[name] = url;
  }
  const flag = (name: string) => argv.includes(`--${name}`);
  const mode = oneOf(env, 'OBJECTOS_MODE', ['objectos', 'gateway'] as const, 'objectos');
  const auth = oneOf(env, 'OBJECTOS_AUTH', ['objectos', 'jwt', 'none'] as const, 'objectos');
  const supergraph = env['OBJECTOS_SUPERGRAPH'] || undefined;
  if (mode === 'objectos' && supergraph) throw new Error('OBJECTOS_SUPERGRAPH is for OBJECTOS_MODE=gateway (the gateway alone, over a supergraph you give it)');
  if (mode === 'gateway' && !supergraph && Object.keys(remoteSubgraphs).length === 0)
    throw new Error('OBJECTOS_MODE=gateway needs OBJECTOS_SUPERGRAPH (a file or URL) or OBJECTOS_SUBGRAPHS (name=url,…)');
  if (mode === 'gateway' && supergraph && Object.keys(remoteSubgraphs).length > 0)
    throw new Error('set OBJECTOS_SUPERGRAPH or OBJECTOS_SUBGRAPHS, not both: a given supergraph already names its subgraphs');
  if (mode === 'objectos' && auth !== 'objectos') throw new Error(`OBJECTOS_AUTH=${auth} is for OBJECTOS_MODE=gateway: ObjectOS with its own identity subgraph authenticates with its sessions and API keys`);
  const jwksUrl = env['OBJECTOS_JWKS_URL'];
  if (auth === 'jwt' && !jwksUrl) throw new Error('OBJECTOS_AUTH=jwt needs OBJECTOS_JWKS_URL (your identity provider\'s JWKS)');
  if (jwksUrl && !/^https?:\/\//.test(jwksUrl)) throw new Error(`OBJECTOS_JWKS_URL must be an http(s) URL, got "${jwksUrl}"`);
  const watch = oneOf(env, 'OBJECTOS_WATCH', ['true', 'false'] as const, production || mode === 'gateway' ? 'false' : 'true') === 'true';
  // Production serves the metadata it was started with, as every replica does: a change is a deployment.
  if (watch && production) throw new Error('OBJECTOS_WATCH=true is for development: with NODE_ENV=production the metadata is loaded once at start (restart or deploy to change it)');
  if (watch && mode === 'gateway') throw new Error('OBJECTOS_WATCH=true is for OBJECTOS_MODE=objectos: the gateway alone has no metadata to watch');
  return {
    mode,
    supergraph,
    auth,
    jwt: auth === 'jwt'
      ? { jwksUrl: jwksUrl!, issuer: env['OBJECTOS_JWT_ISSUER'] || undefined, audience: env['OBJECTOS_JWT_AUDIENCE'] || undefined, organizationClaim: env['OBJECTOS_JWT_ORG_CLAIM'] || 'org_id', rolesClaim: env['OBJECTOS_JWT_ROLES_CLAIM'] || 'roles' }
      : undefined,
    pollMs: env['OBJECTOS_POLL_MS'] === '0' ? 0 : positive(env, 'OBJECTOS_POLL_MS', 10_000),
    namePrefix: namePrefixOf(env['OBJECTOS_NAME_PREFIX']),
    // The Rust planner by default in gateway mode (199/199 in the federation audit, see the README).
    queryPlanner: oneOf(env, 'OBJECTOS_QUERY_PLANNER', ['stitching', 'rust'] as const, mode === 'gateway' ? 'rust' : 'stitching'),
    host: env['HOST'] ?? '127.0.0.1',
    port,
    metadataDir: resolve(env['OBJECTOS_METADATA'] ?? 'metadata'),
    databaseUrl: env['DATABASE_URL'] || undefined,
    dataDir: resolve(env['OBJECTOS_DATA_DIR'] ?? '.objectos/data'),
    seed: !flag('empty') && env['OBJECTOS_SEED'] !== 'false',
    graphiql: env['OBJECTOS_GRAPHIQL'] ? env['OBJECTOS_GRAPHIQL'] === 'true' : !production,
    introspection: env['OBJECTOS_INTROSPECTION'] ? env['OBJECTOS_INTROSPECTION'] === 'true' : !production,
    trustedDocumentsFile: env['OBJECTOS_TRUSTED_DOCUMENTS'] ? resolve(env['OBJECTOS_TRUSTED_DOCUMENTS']) : undefined,
    subgraphTimeoutMs: positive(env, 'OBJECTOS_SUBGRAPH_TIMEOUT_MS', 10_000),
    statementTimeoutMs: positive(env, 'OBJECTOS_STATEMENT_TIMEOUT_MS', 5_000),
    pluginTimeoutMs: positive(env, 'OBJECTOS_PLUGIN_TIMEOUT_MS', 60_000),
    shutdownTimeoutMs: positive(env, 'OBJECTOS_SHUTDOWN_TIMEOUT_MS', 10_000),
    rateLimitPerMinute: env['OBJECTOS_RATE_LIMIT'] === '0' ? 0 : positive(env, 'OBJECTOS_RATE_LIMIT', 600),
    scimRequestsPerMinute: positive(env, 'OBJECTOS_SCIM_RATE_LIMIT', 600),
    bulkMax: positive(env, 'OBJECTOS_BULK_MAX', 1000),
    changeRetentionHours: positive(env, 'OBJECTOS_CHANGE_RETENTION_HOURS', 24, 'a positive whole number of hours'),
    guestOrganization: env['OBJECTOS_GUEST_ORGANIZATION']?.trim() || null,
    maxCost: env['OBJECTOS_MAX_COST'] === '0' ? Number.POSITIVE_INFINITY : positive(env, 'OBJECTOS_MAX_COST', 20_000, 'a positive number'),
    redisUrl: env['REDIS_URL'] || undefined,
    trustProxy: env['OBJECTOS_TRUST_PROXY'] === 'true',
    remoteSubgraphs,
    secret: env['OBJECTOS_SECRET'] || undefined,
    secretFile: resolve(env['OBJECTOS_SECRET_FILE'] ?? '.objectos/secret'),
    publicUrl: (env['OBJECTOS_PUBLIC_URL'] ?? `http://localhost:${port}`).replace(/\/$/, ''),
    trustedOrigins: originsOf(list(env['OBJECTOS_TRUSTED_ORIGINS']), 'OBJECTOS_TRUSTED_ORIGINS'),
    operators: list(env['OBJECTOS_OPERATORS']).map((e) => e.toLowerCase()),
    impersonationMinutes: minutesOf(env, 'OBJECTOS_IMPERSONATION_MINUTES', 15),
    authCacheMs: env['OBJECTOS_AUTH_CACHE_MS'] === '0' ? 0 : positive(env, 'OBJECTOS_AUTH_CACHE_MS', 5_000),
    delivery: deliveryConfigFromEnv(env),
    jobsPrefix: env['OBJECTOS_JOBS_PREFIX'] || undefined,
    emailOtp: env['OBJECTOS_EMAIL_OTP'] === 'true',
    ssoIssuers: originsOf(list(env['OBJECTOS_SSO_ISSUERS']), 'OBJECTOS_SSO_ISSUERS'),
    ssoDomainVerification: ssoDomainVerificationFromEnv(env),
    social: socialFromEnv(env),
    runJobs: oneOf(env, 'OBJECTOS_JOBS', ['on', 'off'] as const, 'on') === 'on',
    metrics: metricsSettingsFromEnv(env),
    watch,
    production,
  };
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, values: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(values as readonly string[]).includes(raw)) throw new Error(`${name} must be one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
}

function namePrefixOf(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(raw)) throw new Error(`OBJECTOS_NAME_PREFIX must be letters and digits, starting with a letter (e.g. crm), got "${raw}"`);
  return raw;
}

const list = (raw: string | undefined): string[] => (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);

function minutesOf(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 24 * 60) throw new Error(`${name} must be a whole number of minutes from 0 to 1440, got "${raw}"`);
  return n;
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number, what = 'a positive number of milliseconds'): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be ${what}, got "${raw}"`);
  return n;
}
