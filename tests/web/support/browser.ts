// Headless Chromium (Debian's package, driven by playwright-core) against `npm run dev`, and what the e2e tests do
// on the page: ask, wait for the answer or an error, watch the answer grow, measure contrast.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startDevStack, type DevStack } from './devStack.js';

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
export async function watchStreaming(page: Page): Promise<void> {
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
export async function shownError(page: Page): Promise<string> {
  const box = page.getByTestId('error');
  return (await box.count()) > 0 ? ((await box.textContent()) ?? '') : '';
}

export const answered = (page: Page) => page.locator('li.msg.assistant:not(.streaming)');

/** Waits until the answer count grows past `before` or an error shows; returns which. */
export async function waitForOutcome(page: Page, before: number): Promise<'answer' | 'error'> {
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
export async function contrast(page: Page, selectors: string[]): Promise<Record<string, number | null>> {
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

export async function ask(page: Page, text: string): Promise<{ outcome: 'answer' | 'error'; final: string; snaps: string[] }> {
  const before = await answered(page).count();
  await watchStreaming(page);
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  const outcome = await waitForOutcome(page, before);
  const final = outcome === 'answer' ? ((await answered(page).nth(before).locator('.text').textContent()) ?? '') : '';
  const snaps = await page.evaluate(() => (window as unknown as { __snaps: string[] }).__snaps);
  return { outcome, final, snaps };
}


/**
 * For a describe block: `npm run dev` (with extra env) and one Chromium page on the web client, started before
 * its tests and stopped after them; page errors are collected.
 */
export function devStackInChromium(env: Record<string, string>, artifacts: string) {
  const s = { stack: undefined as unknown as DevStack, page: undefined as unknown as Page, pageErrors: [] as string[] };
  let browser: Browser | undefined;
  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    s.stack = await startDevStack(env);
    try {
      browser = await launchChromium();
    } catch (err) {
      await s.stack.stop();
      throw err;
    }
    s.page = await browser.ctx.newPage();
    s.page.on('pageerror', (err) => s.pageErrors.push(err.message));
    await s.page.goto(s.stack.webUrl);
    await s.page.getByRole('heading', { name: 'Chat' }).waitFor({ state: 'attached' });
  }, 150_000);
  afterAll(async () => {
    await browser?.close();
    await s.stack?.stop();
  }, 60_000);
  return s;
}
