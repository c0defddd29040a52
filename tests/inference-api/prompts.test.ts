// Prompt hot reload: edits apply without a restart; broken, empty or missing files keep the last good prompt.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stacksClosedAfterEach, TOKEN, userMsg, waitFor, type Stack } from './helpers.js';

const stack = stacksClosedAfterEach();
const systemSent = async (s: Stack, chatType: string) => {
  const res = await s.post('/v1/chat/completions', { ...userMsg(), chat_type: chatType });
  expect(res.status).toBe(200);
  const body = s.stub.stats().bodies.at(-1) as { messages: { content: string }[] };
  return body.messages[0]?.content;
};
const reloadErrors = async (s: Stack) => {
  const text = await (await fetch(`${s.api.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  return Number(/fudbuddy_api_prompt_reload_errors_total (\d+)/.exec(text)?.[1]);
};

describe('prompt hot reload', () => {
  it('an edited prompt is used by the next requests (fs.watch), no restart', async () => {
    const s = await stack();
    expect(await systemSent(s, 'whatToOrder')).toMatch(/^You are FUD Buddy in "what to order" mode/);
    writeFileSync(path.join(s.promptsDir, 'whatToOrder.md'), 'Recommend only noodles.\n');
    expect(await waitFor(() => s.api.ctx.prompts.get('whatToOrder') === 'Recommend only noodles.', 3000)).toBe(true);
    expect(await systemSent(s, 'whatToOrder')).toBe('Recommend only noodles.');
    expect(await systemSent(s, 'home')).toMatch(/^You are FUD Buddy, a warm/);
  });

  it('editors that save by rename are seen too', async () => {
    const s = await stack();
    const tmp = path.join(s.promptsDir, '.home.md.swp');
    writeFileSync(tmp, 'Saved by rename.');
    renameSync(tmp, path.join(s.promptsDir, 'home.md'));
    expect(await waitFor(() => s.api.ctx.prompts.get('home') === 'Saved by rename.', 3000)).toBe(true);
  });

  it('an empty, a binary or a deleted file keeps the last good prompt and counts an error', async () => {
    const s = await stack();
    const good = await systemSent(s, 'somethingFun');
    const file = path.join(s.promptsDir, 'somethingFun.md');
    expect(await reloadErrors(s)).toBe(0);

    writeFileSync(file, '   \n');
    expect(await waitFor(async () => (await reloadErrors(s)) >= 1, 3000)).toBe(true);
    expect(await systemSent(s, 'somethingFun')).toBe(good);

    writeFileSync(file, Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    expect(await waitFor(async () => (await reloadErrors(s)) >= 2, 3000)).toBe(true);
    expect(await systemSent(s, 'somethingFun')).toBe(good);

    rmSync(file);
    expect(await waitFor(async () => (await reloadErrors(s)) >= 3, 3000)).toBe(true);
    expect(await systemSent(s, 'somethingFun')).toBe(good);

    const errors = s.logObjects().filter((l) => l.msg === 'prompt load failed');
    expect(errors.length).toBeGreaterThanOrEqual(3);
    expect(errors.every((e) => e.keeping === 'last good prompt' && e.level === 50)).toBe(true);

    writeFileSync(file, 'Back again.');
    expect(await waitFor(() => s.api.ctx.prompts.get('somethingFun') === 'Back again.', 3000)).toBe(true);
  });

  it('loadAll (what SIGHUP runs) re-reads every prompt', async () => {
    const s = await stack();
    s.api.ctx.prompts.close(); // no watcher: only the explicit reload can pick the change up
    writeFileSync(path.join(s.promptsDir, 'whereToGo.md'), 'Reloaded by SIGHUP.');
    expect(s.api.ctx.prompts.get('whereToGo')).not.toBe('Reloaded by SIGHUP.'); // control: still the loaded one
    await s.api.ctx.prompts.loadAll();
    expect(await systemSent(s, 'whereToGo')).toBe('Reloaded by SIGHUP.');
  });
});
