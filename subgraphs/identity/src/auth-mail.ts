import { sql } from 'drizzle-orm';
import { APIError } from 'better-auth/api';
import { queryRows, type Db } from '@objectos/db';
import type { Notifier } from '@objectos/notifications';

/** Identity's mail: rendered and queued now (a bad template fails the request), delivered by a worker. */
export type SendMail = (template: string, to: { email: string; userId?: string; name?: string | null }, variables: Record<string, unknown>, key: string, tenant?: string | null) => Promise<void>;

/** Mail through the notifier's queue; without one (a test stack), nothing is sent. */
export function mailSender(notifier: Notifier | undefined): SendMail {
  return async (template, to, variables, key, tenant = null) => {
    if (!notifier) return;
    await notifier.notify({ template, variables, to: { email: to.email, ...(to.userId ? { userId: to.userId } : {}) }, key, tenant, channels: ['email'] });
  };
}

const OTP_PURPOSE: Record<string, string> = { 'sign-in': 'signing in', 'email-verification': 'verifying your email address', 'forget-password': 'resetting your password', 'change-email': 'changing your email address' };
/** What a one-time code is for, in words, for its mail. */
export const otpPurpose = (type: string): string => OTP_PURPOSE[type] ?? type;

/** One-time-code routes that would set a password or an address past the policy and history checks of the link flows. */
const OTP_REFUSED = new Set(['/email-otp/reset-password', '/forget-password/email-otp', '/email-otp/request-password-reset', '/email-otp/request-email-change', '/email-otp/change-email']);

/**
 * Email one-time codes: off unless configured; the password and address routes stay with the link flows
 * (policy, history); and a code never signs in an account with a second factor (better-auth's two-factor
 * plugin does not guard /sign-in/email-otp, so a mailbox alone would skip the TOTP). Throws for a refused call.
 */
export function emailOtpGate(db: Db, enabled: boolean): (path: string, body: unknown) => Promise<void> {
  return async (path, body) => {
    if (!enabled) throw new APIError('NOT_FOUND', { code: 'EMAIL_OTP_DISABLED', message: 'Email one-time codes are off here (OBJECTOS_EMAIL_OTP=true turns them on).' });
    if (OTP_REFUSED.has(path)) throw new APIError('FORBIDDEN', { code: 'USE_EMAIL_LINK', message: 'Passwords and addresses are changed through the emailed link (/request-password-reset, /change-email), not a one-time code.' });
    if (path !== '/sign-in/email-otp') return;
    const email = String((body as { email?: unknown } | undefined)?.email ?? '');
    const rows = await queryRows<{ two_factor_enabled: boolean | null }>(db, sql`select two_factor_enabled from auth."user" where lower(email) = lower(${email}) limit 1`);
    if (rows[0]?.two_factor_enabled)
      throw new APIError('FORBIDDEN', { code: 'TWO_FACTOR_REQUIRED', message: 'This account uses two-factor authentication: sign in with its password and second factor.' });
  };
}
