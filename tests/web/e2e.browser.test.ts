// The web client in real headless Chromium against `npm run dev` (stub → inference API → Worker in
// workerd → Vite dev server): streaming in every chat type, keyboard-only use, the origin going down,
// and the fallback mark. Screenshots at phone width go to test-artifacts/web/.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { setStubMode, startDevStack, type DevStack } from './support/devStack.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const artifacts = path.join(root, 'test-artifacts', 'web');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CHAT_TYPES = [
  ['whereToGo', 'Where to go'],
  ['whatToOrder', 'What to order'],
  ['somethingFun', 'Something fun'],
  ['home', 'Home'],
] as const;

export interface Browser {
  ctx: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'fudbuddy-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 375, height: 812 },
    deviceScaleFactor: 1,
  });
  return {
    ctx,
    close: async () => {
      await ctx.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Records every text the in-progress answer shows, so a test can tell streaming from all-at-once. */
async function watchStreaming(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __snaps: string[]; __obs?: MutationObserver };
    w.__snaps = [];
    w.__obs?.disconnect();
    w.__obs = new MutationObserver(() => {
      const t = document.querySelector('[data-testid="streaming"] .text')?.textContent;
      if (t && t !== '…' && w.__snaps.at(-1) !== t) w.__snaps.push(t);
    });
    w.__obs.observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

/** The error box's text, or "" (without waiting for one to appear). */
async function shownError(page: Page): Promise<string> {
  const box = page.getByTestId('error');
  return (await box.count()) > 0 ? ((await box.textContent()) ?? '') : '';
}

const answered = (page: Page) => page.locator('li.msg.assistant:not(.streaming)');

/** Waits until the answer count grows past `before` or an error shows; returns which. */
async function waitForOutcome(page: Page, before: number): Promise<'answer' | 'error'> {
  const handle = await page.waitForFunction(
    (n) => {
      if (document.querySelectorAll('li.msg.assistant:not(.streaming)').length > n) return 'answer';
      if (document.querySelector('[data-testid="error"]')) return 'error';
      return false;
    },
    before,
    { timeout: 45_000, polling: 100 },
  );
  return (await handle.jsonValue()) as 'answer' | 'error';
}

/**
 * WCAG contrast ratio of each selector's text against its effective background (the nearest ancestor
 * with an opaque background colour). Returns the lowest ratio per selector (missing selectors: null).
 */
async function contrast(page: Page, selectors: string[]): Promise<Record<string, number | null>> {
  return page.evaluate((sels) => {
    const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]: number[]) => {
      const f = (v: number) => {
        const x = v / 255;
        return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r ?? 0) + 0.7152 * f(g ?? 0) + 0.0722 * f(b ?? 0);
    };
    const background = (el: Element | null): number[] => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const out: Record<string, number | null> = {};
    for (const sel of sels) {
      const els = [...document.querySelectorAll(sel)];
      if (els.length === 0) {
        out[sel] = null;
        continue;
      }
      out[sel] = Math.min(
        ...els.map((el) => {
          const a = lum(rgb(getComputedStyle(el).color));
          const b = lum(background(el));
          return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        }),
      );
    }
    return out;
  }, selectors);
}

async function ask(page: Page, text: string): Promise<{ outcome: 'answer' | 'error'; final: string; snaps: string[] }> {
  const before = await answered(page).count();
  await watchStreaming(page);
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  const outcome = await waitForOutcome(page, before);
  const final = outcome === 'answer' ? ((await answered(page).nth(before).locator('.text').textContent()) ?? '') : '';
  const snaps = await page.evaluate(() => (window as unknown as { __snaps: string[] }).__snaps);
  return { outcome, final, snaps };
}

describe('web client in Chromium against npm run dev', () => {
  let stack: DevStack;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    // A slower stub makes the stream visibly incremental through all three hops.
    stack = await startDevStack({ STUB_TOKENS_PER_SEC: '25' });
    try {
      browser = await launchChromium();
    } catch (err) {
      await stack.stop();
      throw err;
    }
    page = await browser.ctx.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(stack.webUrl);
    await page.getByRole('heading', { name: 'Chat' }).waitFor({ state: 'attached' });
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  }, 60_000);

  it('streams an answer in each of the four chat types', { timeout: 120_000 }, async () => {
    for (const [type, label] of CHAT_TYPES) {
      await page.getByRole('radio', { name: label }).check();
      expect(await page.getByRole('radio', { name: label }).isChecked()).toBe(true);
      const r = await ask(page, `Help me with ${type}, please`);
      expect(r.outcome, `${type}: ${await shownError(page)}\n--- npm run dev output (tail) ---\n${stack.output().slice(-3000)}`).toBe('answer');
      expect(r.final.trim().length).toBeGreaterThan(0);
      // Text appeared piece by piece: several growing prefixes of the final answer were on screen.
      const partial = r.snaps.filter((s) => s.length < r.final.length && r.final.startsWith(s));
      expect(partial.length, `${type}: snapshots ${JSON.stringify(r.snaps)}`).toBeGreaterThanOrEqual(2);
      expect(await answered(page).last().getAttribute('data-served-by')).toBe('origin');
      expect(await answered(page).last().locator('[data-testid="fallback-mark"]').count()).toBe(0);
    }
    await page.screenshot({ path: path.join(artifacts, 'chat-375.png'), fullPage: true });
  });

  it('works with the keyboard only: choose a chat type with arrows, type, Enter sends', { timeout: 60_000 }, async () => {
    await page.goto(`${stack.webUrl}/#/`);
    await page.reload();
    await page.getByRole('heading', { name: 'Chat' }).waitFor({ state: 'attached' });
    // Tab from the top of the page to the chat-type radios, then arrow keys pick one.
    let guard = 0;
    while ((await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)) !== 'chat-type') {
      await page.keyboard.press('Tab');
      if (++guard > 15) throw new Error('Tab never reached the chat-type radios');
    }
    const start = await page.evaluate(() => (document.activeElement as HTMLInputElement).value);
    await page.keyboard.press('ArrowRight');
    const chosen = await page.evaluate(() => (document.activeElement as HTMLInputElement).value);
    expect(chosen).not.toBe(start);
    expect(await page.locator(`input[name="chat-type"][value="${chosen}"]`).isChecked()).toBe(true);
    guard = 0;
    while ((await page.evaluate(() => document.activeElement?.id)) !== 'message') {
      await page.keyboard.press('Tab');
      if (++guard > 15) throw new Error('Tab never reached the message box');
    }
    const before = await answered(page).count();
    await page.keyboard.type('Keyboard only: what now?');
    await page.keyboard.press('Enter');
    expect(await waitForOutcome(page, before)).toBe('answer');
    expect(await page.locator('li.msg.user').last().textContent()).toContain('Keyboard only: what now?');
    // Focus stayed in the message box, ready for the next question.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('message');
  });

  it('origin down: a clear error with the request id and a Retry button that works once it is back', { timeout: 120_000 }, async () => {
    await setStubMode(stack.stubUrl, 'down');
    try {
      const r = await ask(page, 'Is anyone there?');
      expect(r.outcome).toBe('error');
      const error = page.getByRole('alert');
      expect(await error.textContent()).toContain('FUD Buddy is having trouble');
      const rid = (await page.getByTestId('request-id').textContent()) ?? '';
      expect(rid).toMatch(UUID);
      // The id the user sees is the one the servers logged (so feedback can be matched to logs).
      await vi.waitFor(() => expect(stack.output()).toContain(rid), { timeout: 5000, interval: 100 });
      const retry = page.getByRole('button', { name: 'Retry' });
      expect(await retry.isVisible()).toBe(true);
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Retry'); // focus moved to the way out
      await page.screenshot({ path: path.join(artifacts, 'error-375.png'), fullPage: true });
      // WCAG AA: at least 4.5:1 for the text people must read here.
      const ratios = await contrast(page, ['.error p', '.error button', '.msg .text', '.top nav a', '.env', '.types legend', '.type span', '.hint', 'button[type="submit"]']);
      for (const [sel, ratio] of Object.entries(ratios)) {
        expect(ratio, `${sel} is on the page`).not.toBeNull();
        expect(ratio!, `contrast of ${sel}`).toBeGreaterThanOrEqual(4.5);
      }
    } finally {
      await setStubMode(stack.stubUrl, 'ok');
    }
    // The Worker's breaker may hold the origin closed for a few seconds: retry as a user would (bounded).
    const before = await answered(page).count();
    for (let i = 0; i < 10; i++) {
      await watchStreaming(page);
      await page.getByRole('button', { name: 'Retry' }).click();
      if ((await waitForOutcome(page, before)) === 'answer') break;
      await page.waitForTimeout(2000);
    }
    expect(await answered(page).count()).toBe(before + 1);
    expect(await page.getByRole('alert').count()).toBe(0);
    // The question was not duplicated by the retries.
    expect(await page.locator('li.msg.user', { hasText: 'Is anyone there?' }).count()).toBe(1);
  });

  it('the Config page keeps only non-secret preferences in localStorage', { timeout: 90_000 }, async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('config-title');
    await page.getByLabel('Preferred chat type').selectOption('whatToOrder');
    await page.getByLabel('Model hint (optional)').fill('small-model');
    await page.getByLabel('Invite code (beta, optional)').fill('BETA-E2E-CODE');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    await page.screenshot({ path: path.join(artifacts, 'settings-375.png'), fullPage: true });
    const stored = await page.evaluate(() => ({ ...localStorage }));
    expect(stored).toEqual({ 'fudbuddy.prefs.v1': JSON.stringify({ preferredChatType: 'whatToOrder', modelHint: 'small-model' }) });
    expect(JSON.stringify(stored)).not.toContain('BETA-E2E-CODE');
    await page.reload();
    await page.goto(`${stack.webUrl}/#/`);
    await page.reload();
    await page.getByRole('heading', { name: 'Chat' }).waitFor({ state: 'attached' });
    expect(await page.getByRole('radio', { name: 'What to order' }).isChecked()).toBe(true);
    // The saved model hint travels as metadata and is accepted by the Worker and the API.
    const r = await ask(page, 'With a model hint set');
    expect(r.outcome, await shownError(page)).toBe('answer');
    // Nothing overflows sideways at 375 px.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    expect(pageErrors).toEqual([]);
  });
});

describe('web client in Chromium against npm run dev with DEV_FALLBACK=stub (OpenAI stand-in)', () => {
  let stack: DevStack;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    stack = await startDevStack({ DEV_FALLBACK: 'stub', STUB_TOKENS_PER_SEC: '25' });
    try {
      browser = await launchChromium();
    } catch (err) {
      await stack.stop();
      throw err;
    }
    page = await browser.ctx.newPage();
    await page.goto(stack.webUrl);
    await page.getByRole('heading', { name: 'Chat' }).waitFor({ state: 'attached' });
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  }, 60_000);

  it('origin down: the answer streams from the fallback and carries the fallback mark', { timeout: 90_000 }, async () => {
    const first = await ask(page, 'Before the outage');
    expect(first.outcome).toBe('answer');
    expect(await answered(page).last().getAttribute('data-served-by')).toBe('origin');

    await setStubMode(stack.stubUrl, 'down');
    await page.getByRole('radio', { name: 'Where to go' }).check();
    const r = await ask(page, 'Where should we go tonight?');
    expect(r.outcome, await shownError(page)).toBe('answer');
    expect(r.final.trim().length).toBeGreaterThan(0);
    const reply = answered(page).last();
    expect(await reply.getAttribute('data-served-by')).toBe('fallback');
    expect(await reply.getByTestId('fallback-mark').textContent()).toBe('answered by fallback');
    expect(r.snaps.filter((s) => s.length < r.final.length && r.final.startsWith(s)).length).toBeGreaterThanOrEqual(2);
    await page.screenshot({ path: path.join(artifacts, 'fallback-375.png'), fullPage: true });
    expect((await contrast(page, ['[data-testid="fallback-mark"]']))['[data-testid="fallback-mark"]']!).toBeGreaterThanOrEqual(4.5);

    // The OpenAI stand-in really answered: it received the question (with the Worker's fallback model).
    const stats = (await fetch(`${stack.fallbackUrl}/__stub/stats`).then((res) => res.json())) as { requests: number; bodies: { model?: string; messages?: { content?: string }[] }[] };
    expect(stats.requests).toBeGreaterThanOrEqual(1);
    const last = stats.bodies.at(-1);
    expect(JSON.stringify(last?.messages)).toContain('Where should we go tonight?');
  });
});
