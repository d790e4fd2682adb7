import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface CaughtMail {
  to: string[];
  /** Headers, unfolded. */
  headers: string;
  subject: string;
  /** The text body, quoted-printable decoded. */
  text: string;
}

export interface MailCatcher {
  /** `smtp://127.0.0.1:<port>` for SMTP_URL. */
  url: string;
  mails: CaughtMail[];
  /**
   * Connection errors, kept rather than thrown: a sender killed mid-session (the fault tests' kill -9)
   * resets its socket, which a real SMTP server logs and outlives.
   */
  connectionErrors: Error[];
  /** The first mail to `to` whose subject matches, waiting up to `timeoutMs` for it. */
  waitFor(to: string, subject: RegExp, timeoutMs?: number): Promise<CaughtMail>;
  close(): Promise<void>;
}

const decodeQp = (s: string) => s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

/** A real SMTP server on loopback that keeps what it receives (the catch-all of development). */
export async function startMailCatcher(): Promise<MailCatcher> {
  const mails: CaughtMail[] = [];
  const connectionErrors: Error[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const split = raw.indexOf('\r\n\r\n');
        const headers = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
        const body = raw.slice(split + 4);
        const qp = /content-transfer-encoding:\s*quoted-printable/i.test(headers);
        mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          headers,
          subject: /^Subject: (.*)$/im.exec(headers)?.[1]?.trim() ?? '',
          text: qp ? decodeQp(body) : body,
        });
        callback();
      });
    },
  });
  server.on('error', (e: Error) => connectionErrors.push(e));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    connectionErrors,
    async waitFor(to, subject, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const m = mails.find((x) => x.to.includes(to) && subject.test(x.subject));
        if (m) return m;
        if (Date.now() > end) throw new Error(`no mail to ${to} matching ${subject} within ${timeoutMs} ms; got: ${mails.map((x) => `${x.to.join(',')}: ${x.subject}`).join(' | ') || 'none'}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
