// The web client in real headless Chromium against `npm run dev` (stub → inference API → Worker in
// workerd → Vite dev server): streaming in every chat type, keyboard-only use, the origin going down,
// and the fallback mark. Screenshots at phone width go to test-artifacts/web/.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { answered, ask, contrast, devStackInChromium, shownError, waitForOutcome, watchStreaming } from './support/browser.js';
import { setStubMode } from './support/devStack.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const artifacts = path.join(root, 'test-artifacts', 'web');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CHAT_TYPES = [
  ['whereToGo', 'Where to go'],
  ['whatToOrder', 'What to order'],
  ['somethingFun', 'Something fun'],
  ['home', 'Home'],
] as const;

describe('web client in Chromium against npm run dev', () => {
  // A slower stub makes the stream visibly incremental through all three hops.
  const dev = devStackInChromium({ STUB_TOKENS_PER_SEC: '25' }, artifacts);

  it('streams an answer in each of the four chat types', { timeout: 120_000 }, async () => {
    for (const [type, label] of CHAT_TYPES) {
      await dev.page.getByRole('radio', { name: label }).check();
      expect(await dev.page.getByRole('radio', { name: label }).isChecked()).toBe(true);
      const r = await ask(dev.page, `Help me with ${type}, please`);
      expect(r.outcome, `${type}: ${await shownError(dev.page)}\n--- npm run dev output (tail) ---\n${dev.stack.output().slice(-3000)}`).toBe('answer');
      expect(r.final.trim().length).toBeGreaterThan(0);
      // Text appeared piece by piece: several growing prefixes of the final answer were on screen.
      const partial = r.snaps.filter((s) => s.length < r.final.length && r.final.startsWith(s));
      expect(partial.length, `${type}: snapshots ${JSON.stringify(r.snaps)}`).toBeGreaterThanOrEqual(2);
      expect(await answered(dev.page).last().getAttribute('data-served-by')).toBe('origin');
      expect(await answered(dev.page).last().locator('[data-testid="fallback-mark"]').count()).toBe(0);
    }
    await dev.page.screenshot({ path: path.join(artifacts, 'chat-375.png'), fullPage: true });
  });

  it('works with the keyboard only: choose a chat type with arrows, type, Enter sends', { timeout: 60_000 }, async () => {
    await dev.page.goto(`${dev.stack.webUrl}/#/`);
    await dev.page.reload();
    await dev.page.getByRole('heading', { name: 'Chat' }).waitFor({ state: 'attached' });
    // Tab from the top of the dev.page to the chat-type radios, then arrow keys pick one.
    let guard = 0;
    while ((await dev.page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)) !== 'chat-type') {
      await dev.page.keyboard.press('Tab');
      if (++guard > 15) throw new Error('Tab never reached the chat-type radios');
    }
    const start = await dev.page.evaluate(() => (document.activeElement as HTMLInputElement).value);
    await dev.page.keyboard.press('ArrowRight');
    const chosen = await dev.page.evaluate(() => (document.activeElement as HTMLInputElement).value);
    expect(chosen).not.toBe(start);
    expect(await dev.page.locator(`input[name="chat-type"][value="${chosen}"]`).isChecked()).toBe(true);
    guard = 0;
    while ((await dev.page.evaluate(() => document.activeElement?.id)) !== 'message') {
      await dev.page.keyboard.press('Tab');
      if (++guard > 15) throw new Error('Tab never reached the message box');
    }
    const before = await answered(dev.page).count();
    await dev.page.keyboard.type('Keyboard only: what now?');
    await dev.page.keyboard.press('Enter');
    expect(await waitForOutcome(dev.page, before)).toBe('answer');
    expect(await dev.page.locator('li.msg.user').last().textContent()).toContain('Keyboard only: what now?');
    // Focus stayed in the message box, ready for the next question.
    expect(await dev.page.evaluate(() => document.activeElement?.id)).toBe('message');
  });

  it('origin down: a clear error with the request id and a Retry button that works once it is back', { timeout: 120_000 }, async () => {
    await setStubMode(dev.stack.stubUrl, 'down');
    try {
      const r = await ask(dev.page, 'Is anyone there?');
      expect(r.outcome).toBe('error');
      const error = dev.page.getByRole('alert');
      expect(await error.textContent()).toContain('FUD Buddy is having trouble');
      const rid = (await dev.page.getByTestId('request-id').textContent()) ?? '';
      expect(rid).toMatch(UUID);
      // The id the user sees is the one the servers logged (so feedback can be matched to logs).
      await vi.waitFor(() => expect(dev.stack.output()).toContain(rid), { timeout: 5000, interval: 100 });
      const retry = dev.page.getByRole('button', { name: 'Retry' });
      expect(await retry.isVisible()).toBe(true);
      expect(await dev.page.evaluate(() => document.activeElement?.textContent)).toBe('Retry'); // focus moved to the way out
      await dev.page.screenshot({ path: path.join(artifacts, 'error-375.png'), fullPage: true });
      // WCAG AA: at least 4.5:1 for the text people must read here.
      const ratios = await contrast(dev.page, ['.error p', '.error button', '.msg .text', '.top nav a', '.env', '.types legend', '.type span', '.hint', 'button[type="submit"]']);
      for (const [sel, ratio] of Object.entries(ratios)) {
        expect(ratio, `${sel} is on the dev.page`).not.toBeNull();
        expect(ratio!, `contrast of ${sel}`).toBeGreaterThanOrEqual(4.5);
      }
    } finally {
      await setStubMode(dev.stack.stubUrl, 'ok');
    }
    // The Worker's breaker may hold the origin closed for a few seconds: retry as a user would (bounded).
    const before = await answered(dev.page).count();
    for (let i = 0; i < 10; i++) {
      await watchStreaming(dev.page);
      await dev.page.getByRole('button', { name: 'Retry' }).click();
      if ((await waitForOutcome(dev.page, before)) === 'answer') break;
      await dev.page.waitForTimeout(2000);
    }
    expect(await answered(dev.page).count()).toBe(before + 1);
    expect(await dev.page.getByRole('alert').count()).toBe(0);
    // The question was not duplicated by the retries.
    expect(await dev.page.locator('li.msg.user', { hasText: 'Is anyone there?' }).count()).toBe(1);
  });

  it('the Config dev.page keeps only non-secret preferences in localStorage', { timeout: 90_000 }, async () => {
    await dev.page.getByRole('link', { name: 'Settings' }).click();
    await dev.page.getByRole('heading', { name: 'Settings' }).waitFor();
    expect(await dev.page.evaluate(() => document.activeElement?.id)).toBe('config-title');
    await dev.page.getByLabel('Preferred chat type').selectOption('whatToOrder');
    await dev.page.getByLabel('Model hint (optional)').fill('small-model');
    await dev.page.getByLabel('Invite code (beta, optional)').fill('BETA-E2E-CODE');
    await dev.page.getByRole('button', { name: 'Save' }).click();
    await dev.page.getByText('Saved.').waitFor();
    await dev.page.screenshot({ path: path.join(artifacts, 'settings-375.png'), fullPage: true });
    const stored = await dev.page.evaluate(() => ({ ...localStorage }));
    expect(stored).toEqual({ 'fudbuddy.prefs.v1': JSON.stringify({ preferredChatType: 'whatToOrder', modelHint: 'small-model' }) });
    expect(JSON.stringify(stored)).not.toContain('BETA-E2E-CODE');
    await dev.page.reload();
    await dev.page.goto(`${dev.stack.webUrl}/#/`);
    await dev.page.reload();
    await dev.page.getByRole('heading', { name: 'Chat' }).waitFor({ state: 'attached' });
    expect(await dev.page.getByRole('radio', { name: 'What to order' }).isChecked()).toBe(true);
    // The saved model hint travels as metadata and is accepted by the Worker and the API.
    const r = await ask(dev.page, 'With a model hint set');
    expect(r.outcome, await shownError(dev.page)).toBe('answer');
    // Nothing overflows sideways at 375 px.
    expect(await dev.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    expect(dev.pageErrors).toEqual([]);
  });
});

describe('web client in Chromium against npm run dev with DEV_FALLBACK=stub (OpenAI stand-in)', () => {
  const dev = devStackInChromium({ DEV_FALLBACK: 'stub', STUB_TOKENS_PER_SEC: '25' }, artifacts);

  it('origin down: the answer streams from the fallback and carries the fallback mark', { timeout: 90_000 }, async () => {
    const first = await ask(dev.page, 'Before the outage');
    expect(first.outcome).toBe('answer');
    expect(await answered(dev.page).last().getAttribute('data-served-by')).toBe('origin');

    await setStubMode(dev.stack.stubUrl, 'down');
    await dev.page.getByRole('radio', { name: 'Where to go' }).check();
    const r = await ask(dev.page, 'Where should we go tonight?');
    expect(r.outcome, await shownError(dev.page)).toBe('answer');
    expect(r.final.trim().length).toBeGreaterThan(0);
    const reply = answered(dev.page).last();
    expect(await reply.getAttribute('data-served-by')).toBe('fallback');
    expect(await reply.getByTestId('fallback-mark').textContent()).toBe('answered by fallback');
    expect(r.snaps.filter((s) => s.length < r.final.length && r.final.startsWith(s)).length).toBeGreaterThanOrEqual(2);
    await dev.page.screenshot({ path: path.join(artifacts, 'fallback-375.png'), fullPage: true });
    expect((await contrast(dev.page, ['[data-testid="fallback-mark"]']))['[data-testid="fallback-mark"]']!).toBeGreaterThanOrEqual(4.5);

    // The OpenAI stand-in really answered: it received the question (with the Worker's fallback model).
    const stats = (await fetch(`${dev.stack.fallbackUrl}/__stub/stats`).then((res) => res.json())) as { requests: number; bodies: { model?: string; messages?: { content?: string }[] }[] };
    expect(stats.requests).toBeGreaterThanOrEqual(1);
    const last = stats.bodies.at(-1);
    expect(JSON.stringify(last?.messages)).toContain('Where should we go tonight?');
  });
});
