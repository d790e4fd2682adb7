import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, TEST_SECRET } from '@objectos/testkit';
import { readConfig } from '../src/config.ts';
import { startObjectOS, type RunningObjectOS } from '../src/start.ts';
import { METADATA } from './stack.ts';

/**
 * GraphiQL in a real browser (Debian's Chromium, driven by playwright-core), with every request that
 * leaves the ObjectOS endpoint refused: the page must load and work offline, and authenticate with the
 * session cookie after sign-in or with a header typed into its headers editor.
 */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`[objectos] Chromium is not installed (${CHROMIUM}): the GraphiQL browser test is NOT RUN (CI installs it)`);

describe.skipIf(!hasChromium)('GraphiQL in Chromium, offline', () => {
  let app: RunningObjectOS;
  let browser: Browser;
  let origin: string;
  let dir: string;
  let demo: { email: string; password: string };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'objectos-graphiql-'));
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    app = await startObjectOS(readConfig({
      OBJECTOS_SECRET: TEST_SECRET, OBJECTOS_PUBLIC_URL: origin, OBJECTOS_METADATA: METADATA, OBJECTOS_RATE_LIMIT: '0',
      NODE_ENV: 'development', HOST: '127.0.0.1', PORT: String(port), OBJECTOS_DATA_DIR: dir, OBJECTOS_SECRET_FILE: join(dir, 'secret'),
    }, []));
    const account = app.identity?.demo;
    if (!account?.password) throw new Error('the demo account was not created by this start');
    demo = { email: account.email, password: account.password };
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A browser context in which anything but the ObjectOS endpoint is refused (and remembered). */
  async function offlineContext(): Promise<{ context: BrowserContext; outside: string[] }> {
    const context = await browser.newContext();
    const outside: string[] = [];
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.origin === origin) return route.continue();
      outside.push(url.href);
      return route.abort('internetdisconnected');
    });
    return { context, outside };
  }

  /** Opens GraphiQL, puts `query` in its editor, optionally `headers` in its headers editor, runs it, and returns the response pane's text. */
  async function runInGraphiQL(page: Page, query: string, headers?: string): Promise<string> {
    await page.goto(`${origin}/graphql`);
    const queryEditor = page.locator('.graphiql-query-editor .monaco-editor').first();
    await queryEditor.waitFor({ timeout: 30_000 });
    await replaceEditorText(page, queryEditor, query);
    if (headers) {
      await page.getByRole('button', { name: /^headers$/i }).click();
      const headersEditor = page.locator('.graphiql-editor-tool .monaco-editor').last();
      await headersEditor.waitFor();
      await replaceEditorText(page, headersEditor, headers);
    }
    await page.locator('.graphiql-execute-button').click();
    const response = page.locator('.graphiql-response');
    // The response pane shows the answer's JSON once it arrives (data or errors).
    await expect.poll(async () => /"(data|errors)"/.test(await response.innerText()), { timeout: 20_000 }).toBe(true);
    return response.innerText();
  }

  async function replaceEditorText(page: Page, editor: ReturnType<Page['locator']>, text: string): Promise<void> {
    await editor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    // insertText types no keys, so the editor's auto-closing brackets add nothing.
    await page.keyboard.insertText(text);
  }

  it('loads with nothing but the endpoint reachable, and runs a query as the signed-in user (session cookie)', async () => {
    const { context, outside } = await offlineContext();
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      // Not signed in yet: the page works, and the endpoint says who it wants.
      const before = await runInGraphiQL(page, '{ me { email } }');
      expect(before).toContain('UNAUTHENTICATED');
      expect(before).not.toContain(demo.email);
      // Sign in in this browser (as a sign-in form would): the session cookie lands in the context.
      const signIn = await context.request.post(`${origin}/api/auth/sign-in/email`, { data: { email: demo.email, password: demo.password }, headers: { origin } });
      expect(signIn.status()).toBe(200);
      const answer = await runInGraphiQL(page, '{ me { email } activeOrganization { id } }');
      expect(answer).toContain(demo.email);
      expect(answer).not.toMatch(/"activeOrganization":\s*null/);
      expect(outside).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('authenticates with a header typed into the headers editor (no cookie)', async () => {
    const res = await fetch(`${origin}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(demo) });
    expect(res.status).toBe(200);
    const token = res.headers.get('set-auth-token');
    expect(token).toBeTruthy();
    const { context, outside } = await offlineContext();
    try {
      const page = await context.newPage();
      const answer = await runInGraphiQL(page, '{ me { email } }', JSON.stringify({ authorization: `Bearer ${token}` }));
      expect(answer).toContain(demo.email);
      expect(await context.cookies()).toEqual([]);
      expect(outside).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);
});
