import type { JobQueue } from '@objectos/jobs';
import { checkTarget, type TargetAllowance } from './ssrf.ts';
import { NotificationInputError, type Channel } from './errors.ts';
import { isAllowed } from './preferences.ts';
import type { SqlClient } from './store.ts';
import type { Templates } from './templates.ts';

/** The queues notifications use; each channel's delivery is a job retried with backoff. */
export const NOTIFY_QUEUES = {
  email: 'notify.email',
  in_app: 'notify.in_app',
  push: 'notify.push',
  sms: 'notify.sms',
  webhook: 'notify.webhook',
} as const satisfies Record<Channel, string>;

/** Delivery retry policy: 8 attempts over about four minutes of exponential backoff. */
export const DELIVERY_RETRY = { attempts: 8, backoffMs: 2_000, timeoutMs: 30_000 } as const;

export interface Recipient {
  userId?: string;
  email?: string;
  /** E.164, for SMS. */
  phone?: string;
  locale?: string;
}

export interface NotifyRequest {
  template: string;
  variables: Readonly<Record<string, unknown>>;
  to: Recipient;
  /** Channels to try; each the recipient opted out of (unless the template is security mail) is skipped. @default ['email'] */
  channels?: Channel[];
  /** The idempotency key of this notification (an event id plus what it is for); each channel's job adds its name. */
  key: string;
  tenant?: string | null;
  /** Extra data for in-app and push payloads (ids to open). */
  data?: Record<string, unknown>;
}

export interface EmailJob { to: string; subject: string; text: string; html?: string }
export interface InAppJob { userId: string; tenant: string | null; topic: string; title: string; body: string; data: Record<string, unknown> | null }
export interface PushJob { userId: string; tenant: string | null; title: string; body: string; data: Record<string, unknown> | null }
export interface SmsJob { to: string; body: string }
export interface WebhookJob { url: string; payload: Record<string, unknown> }

export interface Notifier {
  /**
   * Renders the template now (an unknown template or variable is refused before anything is queued)
   * and queues one delivery job per allowed channel. Returns the channels queued.
   */
  notify(request: NotifyRequest): Promise<{ channels: Channel[]; skipped: Channel[] }>;
  /** Queues a signed webhook POST; a forbidden target or an oversized payload is refused before queueing. */
  webhook(request: { url: string; payload: Record<string, unknown>; key: string; tenant?: string | null }): Promise<{ id: string; created: boolean }>;
}

export interface NotifierOptions {
  queue: JobQueue;
  templates: Templates;
  /** Where preferences live. */
  store: SqlClient;
  /** Internal webhook targets allowed (none by default: private, loopback and link-local are refused). */
  allow?: TargetAllowance;
  /** Largest webhook body. @default 256 KiB */
  maxWebhookBytes?: number;
  /** Channels this deployment can deliver (push needs VAPID keys, SMS a provider). @default email, in_app, webhook */
  available?: readonly Channel[];
}

const PHONE = /^\+[1-9]\d{6,14}$/;

/** Declares the delivery queues on a queue that only sends (the worker process registers their handlers). */
export function declareNotifyQueues(queue: JobQueue): void {
  for (const name of Object.values(NOTIFY_QUEUES)) if (!queue.queues().includes(name)) queue.declare(name, DELIVERY_RETRY);
}

export function createNotifier(o: NotifierOptions): Notifier {
  const maxBytes = o.maxWebhookBytes ?? 256 * 1024;
  const available = new Set<Channel>(o.available ?? ['email', 'in_app', 'webhook']);
  return {
    async notify(r) {
      const channels = r.channels ?? ['email'];
      if (typeof r.key !== 'string' || r.key.length === 0) throw new NotificationInputError('INVALID_INPUT', 'a notification needs an idempotency key');
      const message = o.templates.render(r.template, r.to.locale ?? 'en', r.variables);
      const tenant = r.tenant ?? null;
      // Every channel's address is checked before any job is queued: a bad request queues nothing.
      for (const c of channels) {
        if (c === 'webhook') throw new NotificationInputError('INVALID_INPUT', 'webhooks are sent with webhook(), not notify()');
        if (!available.has(c)) throw new NotificationInputError('INVALID_INPUT', `the ${c} channel is not configured here (${c === 'push' ? 'set OBJECTOS_VAPID_PUBLIC_KEY and OBJECTOS_VAPID_PRIVATE_KEY' : 'set OBJECTOS_SMS_URL and OBJECTOS_SMS_TOKEN'})`);
        if (c === 'email' && !r.to.email) throw new NotificationInputError('INVALID_RECIPIENT', `template "${r.template}": the email channel needs to.email`);
        if ((c === 'in_app' || c === 'push') && !r.to.userId) throw new NotificationInputError('INVALID_RECIPIENT', `template "${r.template}": the ${c} channel needs to.userId`);
        if (c === 'sms' && !PHONE.test(r.to.phone ?? '')) throw new NotificationInputError('INVALID_RECIPIENT', `template "${r.template}": the sms channel needs to.phone in E.164 form (+4915112345678)`);
      }
      const queued: Channel[] = [];
      const skipped: Channel[] = [];
      for (const c of channels) {
        if (r.to.userId && !(await isAllowed(o.store, { userId: r.to.userId, tenant, channel: c, topic: message.topic, security: message.security }))) {
          skipped.push(c);
          continue;
        }
        const key = `${r.key}:${c}`;
        const data = r.data ?? null;
        const payload: EmailJob | InAppJob | PushJob | SmsJob =
          c === 'email' ? { to: r.to.email!, subject: message.subject, text: message.text, ...(message.html ? { html: message.html } : {}) }
            : c === 'in_app' ? { userId: r.to.userId!, tenant, topic: message.topic, title: message.subject, body: message.text, data }
              : c === 'push' ? { userId: r.to.userId!, tenant, title: message.subject, body: message.text, data }
                : { to: r.to.phone!, body: message.text };
        await o.queue.enqueue(NOTIFY_QUEUES[c], payload, { key, tenant, priority: message.security ? 'high' : 'normal' });
        queued.push(c);
      }
      return { channels: queued, skipped };
    },
    async webhook(r) {
      const size = Buffer.byteLength(JSON.stringify(r.payload));
      if (size > maxBytes) throw new NotificationInputError('PAYLOAD_TOO_LARGE', `the webhook payload is ${size} bytes, over the ${maxBytes}-byte cap`);
      await checkTarget(r.url, o.allow ?? {});
      return o.queue.enqueue(NOTIFY_QUEUES.webhook, { url: r.url, payload: r.payload } satisfies WebhookJob, { key: r.key, tenant: r.tenant ?? null });
    },
  };
}
