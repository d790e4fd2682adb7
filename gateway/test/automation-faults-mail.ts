import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parse, stringify } from 'yaml';
import { REPO_ROOT, type CaughtMail, type MailCatcher } from '@objectos/testkit';
import { poll, type Resources } from '../../packages/jobs/test/fault-helpers.ts';

/** The demo rule, and the email alert the fault runs add to it. */
export const RULE = 'opportunity_won_follow_up';
export const MAIL_ACTION = 'tell_owner';
const TEMPLATE = 'opportunity_won_mail';
const DEMO_RULE = 'automation/opportunity_won.rule.yaml';

/** The mail names the opportunity it is for, so each caught mail can be traced back to one record. */
const TEMPLATE_YAML = `name: ${TEMPLATE}
topic: crm.opportunity_won
variables: [record]
locales:
  en:
    subject: "Won: {{record.name}}"
    text: "Opportunity {{record.id}} was won. Start onboarding."
`;
const FOR_OPPORTUNITY = /Opportunity ([0-9a-f-]{36}) was won/;

/**
 * A copy of `metadata/` whose demo rule also mails the record's owner (an `email_alert` with a
 * template of its own), for the worker and the data subgraph alike; removed with `resources`.
 */
export async function mailingMetadata(resources: Resources): Promise<string> {
  const dir = join(await resources.tempDir('rule-faults-metadata'), 'metadata');
  await cp(join(REPO_ROOT, 'metadata'), dir, { recursive: true });
  const file = join(dir, DEMO_RULE);
  const rule = parse(await readFile(file, 'utf8')) as { name: string; actions: Record<string, unknown>[] };
  expect(rule.name).toBe(RULE);
  rule.actions.push({ name: MAIL_ACTION, type: 'email_alert', template: TEMPLATE, recipients: ['owner'] });
  await writeFile(file, stringify(rule));
  await mkdir(join(dir, 'notifications'), { recursive: true });
  await writeFile(join(dir, 'notifications', `${TEMPLATE}.template.yaml`), TEMPLATE_YAML);
  return dir;
}

interface KeyedMail { key: string; opportunity: string; to: string[]; messageId: string }

function keyed(m: CaughtMail): KeyedMail {
  const key = /^X-ObjectOS-Idempotency-Key:[ \t]*(\S+)[ \t]*$/im.exec(m.headers)?.[1];
  const messageId = /^Message-ID:[ \t]*(\S+)[ \t]*$/im.exec(m.headers)?.[1];
  const opportunity = FOR_OPPORTUNITY.exec(m.text)?.[1];
  if (!key || !messageId || !opportunity) throw new Error(`a caught mail without its idempotency key, Message-ID or opportunity:\n${m.headers}\n\n${m.text}`);
  return { key, opportunity, to: m.to, messageId };
}

/**
 * Waits for a mail per won opportunity, then until no mail has come for a few seconds (a redelivered
 * job, held for the 2 s lock, would have sent its repeat by then).
 */
export async function settleMails(mail: MailCatcher, n: number): Promise<void> {
  await poll('a mail per won opportunity', async () => new Set(mail.mails.map((m) => keyed(m).key)).size, (k) => k >= n, 60_000);
  let last = -1;
  let since = Date.now();
  await poll('no more mail', async () => {
    if (mail.mails.length !== last) [last, since] = [mail.mails.length, Date.now()];
    return Date.now() - since;
  }, (quiet) => quiet >= 4_000, 60_000);
}

/**
 * Every won opportunity mailed to its owner; a mail sent again carries the first one's idempotency key
 * (and so its Message-ID): one key per opportunity, N keys, each key's mails all for that opportunity.
 * Returns how many mails were repeats.
 */
export function expectMailsByKey(mails: readonly CaughtMail[], ids: readonly string[], ownerEmail: string): number {
  const all = mails.map(keyed);
  const byKey = new Map<string, KeyedMail[]>();
  for (const m of all) byKey.set(m.key, [...(byKey.get(m.key) ?? []), m]);
  expect(byKey.size).toBe(ids.length);
  const opportunities: string[] = [];
  for (const [key, group] of byKey) {
    expect(key).toMatch(new RegExp(`:${RULE}:${MAIL_ACTION}:`));
    expect(new Set(group.map((m) => m.opportunity)).size).toBe(1);
    expect(new Set(group.map((m) => m.messageId)).size).toBe(1);
    for (const m of group) expect(m.to).toEqual([ownerEmail]);
    opportunities.push(group[0]!.opportunity);
  }
  // Distinct opportunities, distinct keys: every won opportunity has exactly one key.
  expect(opportunities.sort()).toEqual([...ids].sort());
  return all.length - byKey.size;
}
