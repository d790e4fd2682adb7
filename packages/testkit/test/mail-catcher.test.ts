import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startMailCatcher } from '../src/mail.ts';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mail catcher', () => {
  it('outlives a sender reset in the middle of a message (a worker killed mid-send), keeping the error, and still takes mail', async () => {
    const mail = await startMailCatcher();
    try {
      const port = Number(new URL(mail.url).port);
      const send = async (lines: string[], finish: (s: net.Socket) => void) => {
        const s = net.connect(port, '127.0.0.1');
        await new Promise((r) => s.once('data', r));
        for (const line of lines) {
          s.write(`${line}\r\n`);
          await pause(30);
        }
        finish(s);
        await pause(100);
      };
      await send(['EHLO killed', 'MAIL FROM:<a@b.test>', 'RCPT TO:<c@d.test>', 'DATA', 'Subject: half'], (s) => s.resetAndDestroy());
      expect(mail.connectionErrors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ECONNRESET']);
      await send(['EHLO next', 'MAIL FROM:<a@b.test>', 'RCPT TO:<c@d.test>', 'DATA', 'Subject: whole', '', 'all of it', '.', 'QUIT'], (s) => s.end());
      expect(mail.mails.map((m) => m.subject)).toEqual(['whole']);
    } finally {
      await mail.close();
    }
  });
});
