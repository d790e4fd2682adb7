import { metrics } from '@objectos/observability';
import { API_KEY_HEADER, type Credentials, type Resolution } from '@objectos/principal';

/**
 * How a request authenticated: the credential the resolver checks first (an API key, then the
 * Authorization header, then the session cookie), `none` when it sent none. Never the credential itself,
 * nor the user, key or session it names: objectos_auth_attempts_total has a handful of series.
 */
export type AuthMethod = 'api_key' | 'bearer' | 'jwt' | 'session_cookie' | 'none';

export function authMethodOf(credentials: Credentials, bearer: 'bearer' | 'jwt'): AuthMethod {
  if (credentials[API_KEY_HEADER]) return 'api_key';
  if (credentials.authorization) return bearer;
  if (credentials.cookie) return 'session_cookie';
  return 'none';
}

/**
 * Counts one authentication by its outcome: refused credentials are a failure, a principal a success;
 * no credentials at all is a failure only where anonymous requests are refused (elsewhere nothing was
 * authenticated, so nothing is counted).
 */
export function recordAuthentication(credentials: Credentials, resolution: Resolution, options: { bearer: 'bearer' | 'jwt'; allowAnonymous: boolean }): void {
  if (!metrics.metricsEnabled()) return;
  const method = authMethodOf(credentials, options.bearer);
  if ('failure' in resolution) return void metrics.authAttempts.inc({ method, result: 'failure' });
  if (resolution.principal.kind !== 'anonymous') return void metrics.authAttempts.inc({ method, result: 'success' });
  if (!options.allowAnonymous) metrics.authAttempts.inc({ method, result: 'failure' });
}

/** The sign-in routes of the identity proxy that check a secret, by method; code sends are not sign-ins. */
const SIGN_IN_METHODS: ReadonlyArray<[RegExp, string]> = [
  [/\/sign-in\/email$/, 'password'],
  [/\/sign-in\/email-otp$/, 'email_otp'],
  [/\/two-factor\/verify-(totp|backup-code|otp)$/, 'two_factor'],
];

/** Counts a sign-in answered by the identity subgraph (a 2xx is a success), by its method. */
export function recordSignIn(path: string, status: number): void {
  if (!metrics.metricsEnabled()) return;
  const method = SIGN_IN_METHODS.find(([route]) => route.test(path))?.[1];
  if (method) metrics.authAttempts.inc({ method, result: status >= 200 && status < 300 ? 'success' : 'failure' });
}
