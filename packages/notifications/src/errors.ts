/** The channels a notification can go out on. */
export const CHANNELS = ['email', 'in_app', 'push', 'sms', 'webhook'] as const;
export type Channel = (typeof CHANNELS)[number];

/** What was wrong with the input; retrying the same input fails the same way. */
export type NotificationInputCode =
  | 'UNKNOWN_TEMPLATE'
  | 'UNKNOWN_VARIABLE'
  | 'MISSING_VARIABLE'
  | 'INVALID_TEMPLATE'
  | 'FORBIDDEN_TARGET'
  | 'PAYLOAD_TOO_LARGE'
  | 'INVALID_RECIPIENT'
  | 'INVALID_INPUT';

/** Bad input to a channel, a template or the store: never worth retrying. */
export class NotificationInputError extends Error {
  override readonly name = 'NotificationInputError';
  /** Input errors are permanent: a queue should dead-letter, not retry. */
  readonly retryable = false;
  constructor(
    readonly code: NotificationInputCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Why a delivery failed: the receiver refused or did not answer in time, or a push subscription is gone. */
export type DeliveryErrorCode = 'DELIVERY_FAILED' | 'TIMEOUT' | 'SUBSCRIPTION_GONE';

/** A delivery the receiver refused or did not complete; `retryable` tells the queue whether to try again. */
export class NotificationDeliveryError extends Error {
  override readonly name: string = 'NotificationDeliveryError';
  readonly code: DeliveryErrorCode;
  readonly channel: Channel | undefined;
  /** The receiver's HTTP status, when it answered. */
  readonly status: number | undefined;
  readonly retryable: boolean;
  constructor(
    code: DeliveryErrorCode,
    message: string,
    options: { channel?: Channel; status?: number; retryable: boolean; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.channel = options.channel;
    this.status = options.status;
    this.retryable = options.retryable;
  }
}

/** A webhook the receiver did not accept with a 2xx (redirects are not followed), or that failed to connect or timed out. */
export class WebhookDeliveryError extends NotificationDeliveryError {
  override readonly name = 'WebhookDeliveryError';
}

/** The error class a channel's delivery failures use. */
export function deliveryError(
  channel: Channel,
  code: DeliveryErrorCode,
  message: string,
  options: { status?: number; retryable: boolean; cause?: unknown },
): NotificationDeliveryError {
  const all = { ...options, channel };
  return channel === 'webhook' ? new WebhookDeliveryError(code, message, all) : new NotificationDeliveryError(code, message, all);
}

const KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * Idempotency keys travel in headers and message ids, so they are printable ASCII without
 * spaces (no header injection), 1–255 characters.
 */
export function requireKey(key: string): string {
  if (typeof key !== 'string' || !KEY.test(key))
    throw new NotificationInputError('INVALID_INPUT', `idempotency key ${JSON.stringify(key)} must be 1–255 printable ASCII characters without spaces`);
  return key;
}
