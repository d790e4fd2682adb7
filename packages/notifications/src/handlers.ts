import type { JobQueue } from '@objectos/jobs';
import type { EmailChannel } from './email.ts';
import { NotificationDeliveryError } from './errors.ts';
import { addInbox, type InboxItem } from './inbox.ts';
import { DELIVERY_RETRY, NOTIFY_QUEUES, type EmailJob, type InAppJob, type PushJob, type SmsJob, type WebhookJob } from './notifier.ts';
import type { PushChannel } from './push.ts';
import { deletePushSubscription, listPushSubscriptions } from './push-subscriptions.ts';
import type { SmsProvider } from './sms.ts';
import type { TargetAllowance } from './ssrf.ts';
import type { SqlClient } from './store.ts';
import { deliverWebhook } from './webhook.ts';

export interface DeliveryChannels {
  store: SqlClient;
  email: EmailChannel;
  push?: PushChannel;
  sms?: SmsProvider;
  /** Signs webhook bodies (receivers verify with verifyWebhookSignature). */
  webhookSecret: string;
  allow?: TargetAllowance;
  /** A new in-app notification, stored: for the live `notificationReceived` stream. */
  onInApp?: (item: InboxItem) => void;
}

/**
 * Registers the delivery handlers. Each job carries its idempotency key to the receiver: the
 * Message-ID of a mail, `X-ObjectOS-Idempotency-Key` of a webhook, the push payload's key, the SMS
 * provider's Idempotency-Key; an in-app notification is stored once per key.
 */
export function registerNotificationHandlers(queue: JobQueue, c: DeliveryChannels): void {
  queue.register<EmailJob>(NOTIFY_QUEUES.email, async (job, ctx) => void (await c.email.send({ ...job, key: ctx.key })), DELIVERY_RETRY);
  queue.register<InAppJob>(NOTIFY_QUEUES.in_app, async (job, ctx) => {
    const item = await addInbox(c.store, { ...job, key: ctx.key });
    if (item) c.onInApp?.(item);
  }, DELIVERY_RETRY);
  queue.register<PushJob>(NOTIFY_QUEUES.push, async (job, ctx) => {
    if (!c.push) throw new NotificationDeliveryError('DELIVERY_FAILED', 'push is not configured on this worker (OBJECTOS_VAPID_*)', { channel: 'push', retryable: true });
    const subs = await listPushSubscriptions(c.store, { userId: job.userId, tenant: job.tenant });
    const failures: unknown[] = [];
    for (const s of subs) {
      try {
        await c.push.send(s, { title: job.title, body: job.body, data: job.data }, ctx.key);
      } catch (e) {
        // A subscription the push service says is gone is deleted, not retried.
        if (e instanceof NotificationDeliveryError && e.code === 'SUBSCRIPTION_GONE') await deletePushSubscription(c.store, s.endpoint);
        else failures.push(e);
      }
    }
    if (failures.length > 0) throw failures[0];
  }, DELIVERY_RETRY);
  queue.register<SmsJob>(NOTIFY_QUEUES.sms, async (job, ctx) => {
    if (!c.sms) throw new NotificationDeliveryError('DELIVERY_FAILED', 'no SMS provider is configured on this worker (OBJECTOS_SMS_URL)', { channel: 'sms', retryable: true });
    await c.sms.send({ ...job, key: ctx.key });
  }, DELIVERY_RETRY);
  queue.register<WebhookJob>(NOTIFY_QUEUES.webhook, async (job, ctx) =>
    void (await deliverWebhook({ url: job.url, payload: job.payload, secret: c.webhookSecret, key: ctx.key, ...(c.allow ? { allow: c.allow } : {}) })), DELIVERY_RETRY);
}
