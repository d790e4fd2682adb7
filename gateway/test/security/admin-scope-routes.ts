/**
 * The admin-scope verdict of every better-auth route, called as org A's owner with inputs aimed at
 * org B (see security-admin-scope.test.ts). A route better-auth adds later has no row and fails the
 * suite until someone decides what it may do.
 * - `refused`: must answer 4xx.
 * - `caller-only`: may succeed, but acts on (or answers about) the caller alone.
 * Either way tenant B's users, credentials, sessions, membership, invitations, keys and 2FA must be
 * unchanged and nothing of B may appear in the body.
 */
export interface RouteVerdict {
  verdict: 'refused' | 'caller-only';
  /** Inputs that replace the default ones aimed at B (a route reading `id` as a user id, say). */
  input?: Record<string, unknown>;
  why?: string;
}

const refused = (why?: string, input?: Record<string, unknown>): RouteVerdict => ({ verdict: 'refused', ...(why ? { why } : {}), ...(input ? { input } : {}) });
const callerOnly = (why: string, input?: Record<string, unknown>): RouteVerdict => ({ verdict: 'caller-only', why, ...(input ? { input } : {}) });

export const ADMIN_SCOPE_ROUTES: Record<string, RouteVerdict> = {
  // Account and session: only ever the caller's own.
  '/sign-in/social': refused('no social provider is configured'),
  '/callback/:id': callerOnly('no social provider and no OAuth state: a redirect to the error page'),
  '/get-session': callerOnly("the caller's session"),
  '/sign-out': callerOnly("ends the caller's session"),
  '/sign-up/email': refused("B's member's email is taken"),
  '/sign-in/email': refused("B's member's email with a wrong password"),
  '/reset-password': refused("B's session token is not a reset token"),
  '/verify-password': refused("the caller's password, wrong"),
  '/verify-email': refused("B's session token is not a verification token"),
  '/send-verification-email': refused('no email sender is configured'),
  '/change-email': refused('changing email is not enabled'),
  '/change-password': refused("the caller's current password, wrong"),
  '/update-session': callerOnly("the caller's session"),
  '/update-user': callerOnly('updates the caller (userId is not an input)'),
  '/delete-user': refused('deleting users is not enabled'),
  '/request-password-reset': callerOnly('the public forgot-password flow: no email sender, nothing revealed'),
  '/reset-password/:token': refused("B's session token is not a reset token"),
  '/list-sessions': callerOnly("the caller's sessions"),
  '/revoke-session': callerOnly("a token of another user's session is not the caller's: nothing is revoked"),
  '/revoke-sessions': callerOnly("the caller's sessions"),
  '/revoke-other-sessions': callerOnly("the caller's other sessions"),
  '/link-social': refused('no social provider is configured'),
  '/list-accounts': callerOnly("the caller's accounts"),
  '/delete-user/callback': refused('deleting users is not enabled'),
  '/unlink-account': refused("the caller's only credential account cannot be unlinked"),
  '/refresh-token': refused('no social provider is configured'),
  '/get-access-token': refused('no social provider is configured'),
  '/account-info': refused("B's member id is not one of the caller's accounts"),
  // Email one-time codes: off unless OBJECTOS_EMAIL_OTP=true (and never past a second factor, see jobs-notifications).
  '/email-otp/send-verification-otp': refused('email one-time codes are off'),
  '/email-otp/check-verification-otp': refused('email one-time codes are off'),
  '/email-otp/verify-email': refused('email one-time codes are off'),
  '/sign-in/email-otp': refused('email one-time codes are off'),
  '/email-otp/request-password-reset': refused('email one-time codes are off; passwords change through the emailed link'),
  '/forget-password/email-otp': refused('email one-time codes are off; passwords change through the emailed link'),
  '/email-otp/reset-password': refused('email one-time codes are off; passwords change through the emailed link'),
  '/email-otp/request-email-change': refused('email one-time codes are off; addresses change through the emailed link'),
  '/email-otp/change-email': refused('email one-time codes are off; addresses change through the emailed link'),
  '/ok': callerOnly('health answer'),
  '/error': callerOnly('error page'),
  // Organizations: B's id, slug, members and invitations are out of reach of a non-member.
  '/organization/create': refused("B's slug is taken"),
  '/organization/update': refused('not a member of B'),
  '/organization/delete': refused('not a member of B'),
  '/organization/set-active': refused('not a member of B'),
  '/organization/get-organization': refused('not a member of B'),
  '/organization/get-full-organization': refused('not a member of B'),
  '/organization/list': callerOnly("the caller's organizations"),
  '/organization/invite-member': refused('not a member of B'),
  '/organization/cancel-invitation': refused('not a member of B'),
  '/organization/accept-invitation': refused('the invitation is for someone else'),
  '/organization/get-invitation': refused('the invitation is for someone else', { id: '@invitation' }),
  '/organization/reject-invitation': refused('the invitation is for someone else'),
  '/organization/list-invitations': refused('not a member of B'),
  '/organization/get-active-member': callerOnly("the caller's membership in the caller's active organization"),
  '/organization/check-slug': refused("B's slug is taken"),
  '/organization/remove-member': refused('not a member of B'),
  '/organization/update-member-role': refused('not a member of B'),
  '/organization/leave': refused('not a member of B'),
  '/organization/list-user-invitations': callerOnly("the caller's invitations (email is server-only)"),
  '/organization/list-members': refused('not a member of B'),
  '/organization/get-active-member-role': refused('not a member of B'),
  '/organization/has-permission': callerOnly("the caller's permission, which in B is none"),
  // Second factor: the caller's own, after their password.
  '/two-factor/get-totp-uri': refused("the caller's password, wrong"),
  '/two-factor/verify-totp': refused('no pending second factor'),
  '/two-factor/send-otp': refused('no pending second factor'),
  '/two-factor/verify-otp': refused('no pending second factor'),
  '/two-factor/verify-backup-code': refused('no pending second factor'),
  '/two-factor/generate-backup-codes': refused("the caller's password, wrong"),
  '/two-factor/enable': refused("the caller's password, wrong"),
  '/two-factor/disable': refused("the caller's password, wrong"),
  // API keys: only the caller's keys.
  '/api-key/create': callerOnly('a key for the caller (userId is server-only); bound to B it opens nothing, see resolve-principal'),
  '/api-key/get': refused("B's key is not the caller's"),
  '/api-key/update': refused("B's key is not the caller's"),
  '/api-key/delete': refused("B's key is not the caller's"),
  '/api-key/list': callerOnly("the caller's keys"),
  // Platform administration: operators only (configured), never an organization owner.
  '/admin/set-role': refused('operators only', { role: 'user' }),
  '/admin/get-user': refused('operators only', { id: '@member' }),
  '/admin/create-user': refused('operators only', { email: 'new-user@tenant-b.test', role: 'user' }),
  '/admin/update-user': refused('operators only'),
  '/admin/list-users': refused('operators only'),
  '/admin/list-user-sessions': refused('operators only'),
  '/admin/unban-user': refused('operators only'),
  '/admin/ban-user': refused('operators only'),
  '/admin/impersonate-user': refused('operators only'),
  '/admin/stop-impersonating': refused('not impersonating'),
  '/admin/revoke-user-session': refused('operators only'),
  '/admin/revoke-user-sessions': refused('operators only'),
  '/admin/remove-user': refused('operators only'),
  '/admin/set-user-password': refused('operators only'),
  '/admin/has-permission': callerOnly("with a session it answers about the caller, whatever userId says"),
  // SSO (#21): providers belong to an organization; only its owners and admins manage them.
  '/sso/register': refused('not a member of B, and the domain is B\'s', {
    providerId: 'a-takes-b', issuer: 'https://idp.bravo.example', domain: 'bravo-sso.test',
    oidcConfig: { clientId: 'stolen', clientSecret: 'stolen-secret', skipDiscovery: true, authorizationEndpoint: 'https://idp.bravo.example/auth', tokenEndpoint: 'https://idp.bravo.example/token', jwksEndpoint: 'https://idp.bravo.example/jwks' },
  }),
  '/sso/providers': callerOnly("the providers of the caller's organizations (none of B's)"),
  '/sso/get-provider': refused("B's provider is not the caller's to read", { providerId: 'bravo-oidc' }),
  '/sso/update-provider': refused("B's provider is not the caller's to change", { providerId: 'bravo-oidc', domain: 'taken.test' }),
  '/sso/delete-provider': refused("B's provider is not the caller's to remove", { providerId: 'bravo-oidc' }),
  '/sso/request-domain-verification': refused("B's provider's verification token is not the caller's to get", { providerId: 'bravo-oidc' }),
  '/sso/verify-domain': refused("B's provider's domains are not the caller's to verify", { providerId: 'bravo-oidc' }),
  '/sign-in/sso': callerOnly("starts the caller's own sign-in at B's provider (public by design: B unchanged)", { providerId: 'bravo-oidc', email: 'someone@bravo-sso.test' }),
  '/sso/callback/:providerId': callerOnly('no sign-in state: a redirect to the error page'),
  '/sso/callback': callerOnly('no sign-in state: a redirect to the error page'),
  '/sso/saml2/sp/metadata': callerOnly('public service-provider metadata'),
  '/sso/saml2/sp/acs/:providerId': callerOnly('no SAML response: refused or an error redirect'),
  '/sso/saml2/sp/slo/:providerId': callerOnly('no SAML logout message: refused or an error redirect'),
  '/sso/saml2/logout/:providerId': callerOnly("the caller's own SAML session, which it has none of"),
};

/** Endpoints better-auth exposes to server code only (no path, so no HTTP route). */
export const SERVER_ONLY_ENDPOINTS = ['setPassword', 'addMember', 'generateTOTP', 'viewBackupCodes', 'verifyApiKey', 'deleteAllExpiredApiKeys', 'createVerificationOTP', 'getVerificationOTP'];
