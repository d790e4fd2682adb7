export {
  CHANNELS, NotificationDeliveryError, NotificationInputError, WebhookDeliveryError,
  type Channel, type DeliveryErrorCode, type NotificationInputCode,
} from './errors.ts';
export { checkTemplate, templateReferences, TEMPLATE_HELPERS, type TemplateDefinition, type TemplateLocaleSource } from './check-template.ts';
export { createTemplates, type RenderedMessage, type Templates } from './templates.ts';
export { createEmailChannel, messageIdFor, type EmailChannel, type EmailChannelOptions, type EmailMessage } from './email.ts';
export { postPinned, type PinnedResponse } from './pinned-request.ts';
export { checkTarget, classifyAddress, type AddressClass, type CheckedTarget, type Resolver, type TargetAllowance } from './ssrf.ts';
export { deliverWebhook, signWebhook, verifyWebhookSignature, type WebhookDelivery, type WebhookResult } from './webhook.ts';
export {
  createPushChannel, MAX_PUSH_PAYLOAD_BYTES,
  type PushChannel, type PushChannelOptions, type PushSubscriptionData, type VapidDetails,
} from './push.ts';
export { checkSms, createHttpSmsProvider, MAX_SMS_BODY, type HttpSmsProviderOptions, type SmsMessage, type SmsProvider } from './sms.ts';
export { ensureNotificationTables, type SqlClient } from './store.ts';
export { addInbox, listInbox, markRead, type InboxItem, type InboxPage } from './inbox.ts';
export { getPreferences, isAllowed, setPreference, topicPatterns, type Preference } from './preferences.ts';
export { deletePushSubscription, listPushSubscriptions, savePushSubscription, type StoredPushSubscription } from './push-subscriptions.ts';
export {
  createNotifier, declareNotifyQueues, DELIVERY_RETRY, NOTIFY_QUEUES,
  type EmailJob, type InAppJob, type Notifier, type NotifierOptions, type NotifyRequest, type PushJob, type Recipient, type SmsJob, type WebhookJob,
} from './notifier.ts';
export { registerNotificationHandlers, type DeliveryChannels } from './handlers.ts';
export { DEFAULT_TEMPLATES, withDefaultTemplates } from './default-templates.ts';
