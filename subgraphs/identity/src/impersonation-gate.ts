import type { Auth } from './create-auth.ts';

/**
 * What an impersonation session may do on better-auth's own routes: look at itself, end itself, pick
 * the organization to look at. Everything else (minting API keys, listing or revoking the user's
 * sessions, changing passwords, 2FA, email, memberships, invitations) would act as the user beyond
 * looking, or turn the borrowed session into credentials that outlive it, unmarked.
 */
const ALLOWED = new Set(['/get-session', '/sign-out', '/admin/stop-impersonating', '/organization/set-active', '/organization/list', '/organization/get-full-organization']);

const refuse = (status: number, code: string, message: string): Response => Response.json({ code, message }, { status });

/**
 * Gates better-auth's routes for impersonation sessions, which better-auth itself treats as ordinary
 * sessions there (and extends on use): past its time box (counted from its start, as the principal
 * resolver counts it for /graphql) it is refused everywhere, and within it only {@link ALLOWED} routes
 * pass. Ordinary sessions pass untouched. Returns the refusal, or null to go on.
 */
export async function impersonationGate(auth: Auth, request: Request, path: string, boxMs: number): Promise<Response | null> {
  const h = request.headers;
  if (!h.has('authorization') && !h.has('cookie')) return null;
  // Read without refreshing: looking must not extend the session.
  const found = await auth.api.getSession({ headers: h, query: { disableRefresh: true } }).catch(() => null);
  const session = found?.session as { impersonatedBy?: string | null; createdAt: Date | string } | undefined;
  if (!session?.impersonatedBy) return null;
  if (Date.now() > new Date(session.createdAt).getTime() + boxMs) return refuse(401, 'SESSION_EXPIRED', 'The impersonation session has ended.');
  const route = path.slice('/api/auth'.length);
  if (!ALLOWED.has(route))
    return refuse(403, 'IMPERSONATION_LIMITED', `An impersonation session cannot use ${route}: it can look at what the user sees, not act for them on their account.`);
  return null;
}
