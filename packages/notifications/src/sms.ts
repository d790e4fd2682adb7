import { deliveryError, NotificationInputError, requireKey } from './errors.ts';
import { postPinned } from './pinned-request.ts';
import { checkTarget, type Resolver, type TargetAllowance } from './ssrf.ts';

/** One text message. */
export interface SmsMessage {
  /** E.164: `+`, country code, number; up to 15 digits (`+4915112345678`). */
  to: string;
  body: string;
  /** Sent to the provider so it can drop repeats. */
  key: string;
}

/** Something that sends text messages (an HTTP gateway, Twilio, a test double). */
export interface SmsProvider {
  name: string;
  /** Resolves with the provider's message id. */
  send(msg: SmsMessage): Promise<{ id: string }>;
}

export interface HttpSmsProviderOptions {
  /** The gateway's send endpoint; passes `checkTarget`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token: string;
  allow?: TargetAllowance;
  /** @default 'http' */
  name?: string;
  /** @default 10000 */
  timeoutMs?: number;
  resolve?: Resolver;
}

const E164 = /^\+[1-9]\d{1,14}$/;
/** Ten concatenated segments; longer is almost certainly a mistake (and costly). */
export const MAX_SMS_BODY = 1600;

/** Throws `INVALID_RECIPIENT`/`INVALID_INPUT` unless `msg` is a sendable text message. */
export function checkSms(msg: SmsMessage): void {
  if (typeof msg.to !== 'string' || !E164.test(msg.to))
    throw new NotificationInputError('INVALID_RECIPIENT', `${JSON.stringify(msg.to)} is not an E.164 phone number (+, country code and number, up to 15 digits, no spaces: +4915112345678)`);
  if (typeof msg.body !== 'string' || msg.body.length === 0 || msg.body.length > MAX_SMS_BODY)
    throw new NotificationInputError('INVALID_INPUT', `an SMS body is 1–${MAX_SMS_BODY} characters`);
  requireKey(msg.key);
}

/**
 * A provider for a generic HTTP gateway: POSTs `{ to, body }` as JSON with
 * `Authorization: Bearer` and `Idempotency-Key`, through the SSRF guard. Any non-2xx throws a
 * delivery error (retryable for 5xx, 408 and 429). The id is the answer's `id`, or the key when
 * the gateway returns none.
 */
export function createHttpSmsProvider({ url, token, allow = {}, name = 'http', timeoutMs = 10_000, resolve }: HttpSmsProviderOptions): SmsProvider {
  return {
    name,
    async send(msg) {
      checkSms(msg);
      const target = await checkTarget(url, allow, resolve);
      const res = await postPinned('sms', target, {
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'Idempotency-Key': msg.key },
        body: JSON.stringify({ to: msg.to, body: msg.body }),
        timeoutMs,
      });
      if (res.status < 200 || res.status >= 300) {
        const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
        throw deliveryError('sms', 'DELIVERY_FAILED', `SMS gateway ${name} answered ${res.status}${res.body ? `: ${res.body.slice(0, 200)}` : ''}`, { status: res.status, retryable });
      }
      return { id: messageId(res.body) ?? msg.key };
    },
  };
}

function messageId(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === 'object' && 'id' in parsed) {
      const id = (parsed as { id: unknown }).id;
      if (typeof id === 'string' || typeof id === 'number') return String(id);
    }
  } catch {
    // Not JSON: the gateway gave no id.
  }
  return undefined;
}
