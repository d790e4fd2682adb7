import { admin, bearer, emailOTP, organization, twoFactor } from 'better-auth/plugins';
import { apiKey } from '@better-auth/api-key';
import { API_KEY_HEADER } from '@objectos/principal';
import { otpPurpose, type SendMail } from './auth-mail.ts';
import { adminPluginOptions } from './operators.ts';
import { ssoPlugin } from './sso.ts';
import { genericOAuthPlugin, type SocialConfig } from './social.ts';

export const API_KEY_PREFIX = 'oos_';

/** The better-auth plugins ObjectOS uses; their tables are part of the schema. */
export function plugins(impersonationMinutes: number, mail: SendMail, baseURL: string, social?: SocialConfig, verifySsoDomains = true) {
  return [
    bearer(),
    // Present always so the auth API has one shape; its routes answer only with OBJECTOS_EMAIL_OTP (the before hook).
    emailOTP({
      sendVerificationOTP: ({ email, otp, type }) => mail('email_otp', { email }, { otp, purpose: otpPurpose(type) }, `email_otp:${email}:${type}:${otp}`),
      expiresIn: 300,
      allowedAttempts: 3,
      disableSignUp: true,
    }),
    organization({
      allowUserToCreateOrganization: true,
      creatorRole: 'owner',
      // The invitee signs in (or up, verifying the address) and posts /organization/accept-invitation with this id.
      sendInvitationEmail: (d) => mail('invitation', { email: d.email }, {
        inviterName: d.inviter.user.name || d.inviter.user.email, organizationName: d.organization.name, role: d.role,
        url: `${baseURL}/accept-invitation?id=${encodeURIComponent(d.id)}`, invitationId: d.id,
      }, `invitation:${d.id}`, d.organization.id),
    }),
    twoFactor({ issuer: 'ObjectOS', backupCodeOptions: { amount: 10, length: 10 } }),
    // better-auth's default of 10 uses a day per key would break integrations; the gateway's own
    // rate limit already keys its budgets per API key (protection/use-rate-limit.ts).
    apiKey({ enableMetadata: true, apiKeyHeaders: [API_KEY_HEADER], defaultPrefix: API_KEY_PREFIX, requireName: true, rateLimit: { enabled: false } }),
    admin(adminPluginOptions(impersonationMinutes)),
    ssoPlugin(verifySsoDomains),
    // Generic OAuth 2.0 / OIDC providers join the social ones: /sign-in/social, /callback/:id.
    genericOAuthPlugin(social),
  ] as const;
}
