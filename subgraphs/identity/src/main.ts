import { createServerAdapter } from '@whatwg-node/server';
import { eventsPlugin, redisProbePlugin, type EventBus } from '@objectos/events';
import { definePlugin, OBJECTOS_VERSION, runProcess } from '@objectos/kernel';
import { loadMetadata } from '@objectos/metadata';
import { pingDatabase } from '@objectos/db';
import { principalGuardPlugin, type ReplayStore } from '@objectos/principal';
import { jobsFromEnvPlugin, type JobRuntime } from '@objectos/automation-subgraph';
import { createIdentitySubgraph, type IdentitySubgraph } from './create-identity-subgraph.ts';
import { securityNamesOf } from './identity-schema.ts';
import { socialFromEnv, ssoDomainVerificationFromEnv } from './social-config.ts';
import { originsOf } from './origin-rule.ts';

/**
 * Runs the identity subgraph as its own process (services mode): PORT (4002), HOST, DATABASE_URL,
 * OBJECTOS_SECRET, OBJECTOS_PUBLIC_URL (the gateway's), OBJECTOS_METADATA (policies, security names), REDIS_URL
 * (auth events reach every gateway; replicas share which gateway signatures were used), OBJECTOS_SEED=true (demo organization on first start),
 * OBJECTOS_TRUSTED_ORIGINS, OBJECTOS_OPERATORS and OBJECTOS_IMPERSONATION_MINUTES as for the gateway, and the job
 * queue's settings (OBJECTOS_JOBS_PREFIX; mail is queued here, delivered by the workers).
 * Plugins: redis, events, principal-guard, jobs (sends only), identity.
 */
const redisUrl = process.env['REDIS_URL'] || undefined;
const list = (name: string) => (process.env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
let identity: IdentitySubgraph | null = null;

runProcess({
  name: 'identity',
  port: Number(process.env['PORT'] ?? 4002),
  host: process.env['HOST'] ?? '127.0.0.1',
  plugins: (readiness) => [
    redisProbePlugin(readiness, redisUrl),
    eventsPlugin(redisUrl),
    principalGuardPlugin(redisUrl),
    // Mail (verification, reset, invitations) is queued here and delivered by the workers.
    jobsFromEnvPlugin(false, { register: () => undefined }),
    definePlugin({
      name: 'identity', version: OBJECTOS_VERSION, implements: ['com.objectos.protocol.graphql-federation-subgraph.v2', 'com.objectos.protocol.better-auth.v1'],
      provides: [{ id: 'com.objectos.subgraph.identity', name: 'identity', methods: ['resolve'], events: ['auth.login', 'auth.logout', 'auth.session_revoked'] }],
      requires: ['events', 'principal-guard', 'jobs'],
      async start(ctx) {
        const secret = process.env['OBJECTOS_SECRET'];
        if (!secret) throw new Error('OBJECTOS_SECRET is required: the gateway signs every request with a key derived from it');
        const databaseUrl = process.env['DATABASE_URL'];
        if (!databaseUrl) throw new Error('DATABASE_URL is required: in services mode identity shares PostgreSQL with the data subgraph');
        const publicUrl = process.env['OBJECTOS_PUBLIC_URL'] ?? 'http://localhost:4000';
        const minutes = process.env['OBJECTOS_IMPERSONATION_MINUTES'];
        if (minutes && !/^\d+$/.test(minutes)) throw new Error(`OBJECTOS_IMPERSONATION_MINUTES must be a whole number of minutes, got "${minutes}"`);
        const model = await loadMetadata(process.env['OBJECTOS_METADATA'] ?? 'metadata');
        identity = await createIdentitySubgraph({
          databaseUrl, secret, baseURL: publicUrl,
          // The same origins the gateway allows: a sign-in accepted in one topology is accepted in the other.
          trustedOrigins: [new URL(publicUrl).origin, ...originsOf(list('OBJECTOS_TRUSTED_ORIGINS'), 'OBJECTOS_TRUSTED_ORIGINS')],
          operators: list('OBJECTOS_OPERATORS'),
          ...(minutes ? { impersonationMinutes: Number(minutes) } : {}),
          policy: model.defaultPolicy,
          security: securityNamesOf(model.security),
          ssoMappings: model.security.ssoMappings,
          groups: model.security.groups,
          scimMappings: model.security.scimMappings,
          social: socialFromEnv(process.env),
          bus: ctx.getService<EventBus>('bus'),
          seedDemo: process.env['OBJECTOS_SEED'] === 'true',
          replay: ctx.getService<ReplayStore>('replay'),
          notifier: ctx.getService<JobRuntime>('jobs').notifier,
          emailOtp: process.env['OBJECTOS_EMAIL_OTP'] === 'true',
          ssoIssuers: originsOf(list('OBJECTOS_SSO_ISSUERS'), 'OBJECTOS_SSO_ISSUERS'),
          ssoDomainVerification: ssoDomainVerificationFromEnv(process.env),
          ...(process.env['OBJECTOS_NAME_PREFIX'] ? { namePrefix: process.env['OBJECTOS_NAME_PREFIX'] } : {}),
        });
        const db = identity.database;
        readiness.register('database', () => pingDatabase(db));
      },
      destroy: () => identity?.dispose(),
    }),
  ],
  // The same fetch handler as in process, adapted to node:http by yoga's own server adapter.
  app: () => createServerAdapter(identity!.fetch),
  started() {
    if (identity?.demo?.password) console.log(`demo admin: ${identity.demo.email} / ${identity.demo.password} (organization ${identity.demo.organizationId})`);
    // The data process shares the demo records out among them (security.member_access), once it seeds.
    for (const m of identity?.demo?.password ? identity.demo.members : []) console.log(`demo member: ${m.email} (role ${m.role}), same password`);
  },
}).catch((e: unknown) => {
  console.error(`identity subgraph failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
