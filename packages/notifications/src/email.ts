import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import { deliveryError, NotificationInputError, requireKey } from './errors.ts';

/** One email. */
export interface EmailMessage {
  /** One address. */
  to: string;
  subject: string;
  text: string;
  html?: string | undefined;
  /** The same on every retry: it fixes the Message-ID, so receivers and clients drop repeats. */
  key: string;
}

export interface EmailChannelOptions {
  /** `smtp://user:pass@host:587` or `smtps://…`; absent: development mode, messages are logged. */
  smtpUrl?: string | undefined;
  /** The sender, e.g. `ObjectOS <no-reply@example.com>`. */
  from: string;
  /** Where development mode writes messages. @default console.log */
  log?: (line: string) => void;
}

export interface EmailChannel {
  /** `development`: messages go to the log, not to anyone. */
  mode: 'smtp' | 'development';
  /** Sends (or logs) the message; resolves with its Message-ID. */
  send(message: EmailMessage): Promise<{ messageId: string }>;
  /** Closes pooled SMTP connections. */
  close(): void;
}

/** A single mailbox; commas, angle brackets and whitespace would add recipients or headers. */
const ADDRESS = /^[^\s@,;<>"()[\]\\]+@[^\s@,;<>"()[\]\\]+\.[^\s@,;<>"()[\]\\]+$/;

/** `<sha256(key)@objectos>`: the same key always yields the same Message-ID. */
export function messageIdFor(key: string): string {
  return `<${createHash('sha256').update(key).digest('hex')}@objectos>`;
}

/**
 * Email over SMTP (nodemailer), or — without `smtpUrl` — development mode, which prints the whole
 * message (recipient, subject, text with its links) as readable log lines instead of sending.
 * Every message carries `Message-ID: <sha256(key)@objectos>` and `X-ObjectOS-Idempotency-Key`.
 */
export function createEmailChannel({ smtpUrl, from, log = console.log }: EmailChannelOptions): EmailChannel {
  const transport = smtpUrl ? nodemailer.createTransport(smtpUrl) : undefined;

  const check = (m: EmailMessage): { key: string; subject: string } => {
    const key = requireKey(m.key);
    if (typeof m.to !== 'string' || !ADDRESS.test(m.to)) throw new NotificationInputError('INVALID_RECIPIENT', `${JSON.stringify(m.to)} is not one email address`);
    if (!m.subject || /[\r\n]/.test(m.subject)) throw new NotificationInputError('INVALID_INPUT', 'an email subject is one non-empty line');
    if (!m.text) throw new NotificationInputError('INVALID_INPUT', 'an email needs a plain-text body');
    return { key, subject: m.subject };
  };

  return {
    mode: transport ? 'smtp' : 'development',
    async send(message) {
      const { key, subject } = check(message);
      const messageId = messageIdFor(key);
      if (!transport) {
        const lines = [
          `[email] development mode, not sent — to: ${message.to}`,
          `[email] from: ${from}`,
          `[email] subject: ${subject}`,
          `[email] message-id: ${messageId} (idempotency key ${key})`,
          ...message.text.split(/\r?\n/).map((l) => `[email] | ${l}`),
          ...(message.html ? ['[email] (an HTML part is sent too)'] : []),
        ];
        for (const line of lines) log(line);
        return { messageId };
      }
      try {
        await transport.sendMail({
          from,
          to: message.to,
          subject,
          text: message.text,
          ...(message.html ? { html: message.html } : {}),
          messageId,
          headers: { 'X-ObjectOS-Idempotency-Key': key },
        });
      } catch (e) {
        const responseCode = (e as { responseCode?: unknown }).responseCode;
        // 5xx is the server's final word on this message; connection trouble and 4xx pass.
        const permanent = typeof responseCode === 'number' && responseCode >= 500;
        throw deliveryError('email', 'DELIVERY_FAILED', `SMTP refused the message to ${message.to}: ${(e as Error).message}`, {
          retryable: !permanent,
          ...(typeof responseCode === 'number' ? { status: responseCode } : {}),
          cause: e,
        });
      }
      return { messageId };
    },
    close() {
      transport?.close();
    },
  };
}
