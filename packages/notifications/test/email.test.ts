import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmailChannel, NotificationDeliveryError, NotificationInputError } from '../src/index.ts';

interface Mail {
  from: string;
  to: string[];
  raw: string;
}

describe('createEmailChannel over SMTP', () => {
  const mails: Mail[] = [];
  let server: SMTPServer;
  let port: number;
  beforeAll(async () => {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo(address, _session, callback) {
        // A mailbox that does not exist: a permanent refusal.
        if (address.address.startsWith('nobody@')) callback(Object.assign(new Error('no such user'), { responseCode: 550 }));
        else callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            // Unfold long header lines (RFC 5322 §2.2.3) so each header is one line.
            raw: Buffer.concat(chunks).toString('utf8').replace(/\r\n[ \t]+/g, ' '),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('delivers text and html with a Message-ID derived from the key and the idempotency header', async () => {
    const email = createEmailChannel({ smtpUrl: `smtp://127.0.0.1:${port}`, from: 'ObjectOS <no-reply@objectos.test>' });
    try {
      expect(email.mode).toBe('smtp');
      const before = mails.length;
      const r = await email.send({ to: 'ana@example.com', subject: 'Verify your email', text: 'Open https://app.test/verify?t=abc', html: '<a href="https://app.test/verify?t=abc">Verify</a>', key: 'verify:ana:1' });
      const expectedId = `<${createHash('sha256').update('verify:ana:1').digest('hex')}@objectos>`;
      expect(r.messageId).toBe(expectedId);
      const mail = mails[before]!;
      expect(mail.from).toBe('no-reply@objectos.test');
      expect(mail.to).toEqual(['ana@example.com']);
      expect(mail.raw).toMatch(new RegExp(`^Message-ID: ${expectedId}\\r$`, 'mi'));
      // Header names are case-insensitive; nodemailer writes this one as X-Objectos-….
      expect(mail.raw).toMatch(/^X-ObjectOS-Idempotency-Key: verify:ana:1\r$/im);
      expect(mail.raw).toMatch(/^Subject: Verify your email\r$/m);
      expect(mail.raw).toMatch(/^To: ana@example\.com\r$/m);
      expect(mail.raw).toContain('Content-Type: multipart/alternative');
      expect(mail.raw).toContain('Open https://app.test/verify?t=abc');
      expect(mail.raw).toContain('text/html');
    } finally {
      email.close();
    }
  });

  it('sends a retry with the same Message-ID', async () => {
    const email = createEmailChannel({ smtpUrl: `smtp://127.0.0.1:${port}`, from: 'no-reply@objectos.test' });
    try {
      const before = mails.length;
      await email.send({ to: 'bo@example.com', subject: 's', text: 't', key: 'k-retry' });
      await email.send({ to: 'bo@example.com', subject: 's', text: 't', key: 'k-retry' });
      const ids = mails.slice(before).map((m) => /^Message-ID: (.*)\r$/im.exec(m.raw)?.[1]);
      expect(ids[0]).toBeDefined();
      expect(ids[0]).toBe(ids[1]);
    } finally {
      email.close();
    }
  });

  it('reports a permanent SMTP refusal as a non-retryable delivery error, and an unreachable server as retryable', async () => {
    const email = createEmailChannel({ smtpUrl: `smtp://127.0.0.1:${port}`, from: 'no-reply@objectos.test' });
    const refused = await email.send({ to: 'nobody@example.com', subject: 's', text: 't', key: 'k' }).then(() => undefined, (e: unknown) => e);
    email.close();
    expect(refused).toBeInstanceOf(NotificationDeliveryError);
    expect(refused).toMatchObject({ code: 'DELIVERY_FAILED', channel: 'email', status: 550, retryable: false });
    const down = createEmailChannel({ smtpUrl: 'smtp://127.0.0.1:1', from: 'no-reply@objectos.test' });
    await expect(down.send({ to: 'a@example.com', subject: 's', text: 't', key: 'k' })).rejects.toMatchObject({ code: 'DELIVERY_FAILED', retryable: true });
    down.close();
  });
});

describe('createEmailChannel in development mode', () => {
  it('prints the whole message, links included, instead of sending', async () => {
    const lines: string[] = [];
    const email = createEmailChannel({ from: 'no-reply@objectos.test', log: (l) => lines.push(l) });
    expect(email.mode).toBe('development');
    const r = await email.send({ to: 'dev@example.com', subject: 'Verify your email', text: 'Hi,\nopen https://localhost:3000/verify?token=abc123 to verify.', key: 'verify:dev' });
    expect(r.messageId).toMatch(/^<[0-9a-f]{64}@objectos>$/);
    const log = lines.join('\n');
    expect(log).toContain('to: dev@example.com');
    expect(log).toContain('subject: Verify your email');
    expect(log).toContain('https://localhost:3000/verify?token=abc123');
    expect(lines.some((l) => l.endsWith('| Hi,'))).toBe(true);
    expect(log).toContain(r.messageId);
  });

  it('refuses several recipients, header-breaking subjects and keys', async () => {
    const email = createEmailChannel({ from: 'no-reply@objectos.test', log: () => {} });
    const err = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
    const many = await err(email.send({ to: 'a@example.com, b@example.com', subject: 's', text: 't', key: 'k' }));
    expect(many).toBeInstanceOf(NotificationInputError);
    expect(many).toMatchObject({ code: 'INVALID_RECIPIENT' });
    await expect(email.send({ to: 'a@example.com', subject: 'x\r\nBcc: b@example.com', text: 't', key: 'k' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(email.send({ to: 'a@example.com', subject: 's', text: 't', key: 'has space' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
