// api.promptsDir is checked with the inference API's own prompt rules before anything ships: a prompt the API
// could not load fails the program, naming the key and the file; the repo's prompts/ pass.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkPromptsDir } from '../../components/lib/promptsCheck.js';
import { CHAT_TYPES } from '../../services/common/chat-types.js';
import { MAX_PROMPT_BYTES, parsePrompt, promptFileName } from '../../services/common/prompt-rules.js';
import { REPO_ROOT } from '../support/testHost.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fudbuddy-prompts-'));
  for (const t of CHAT_TYPES) writeFileSync(path.join(dir, promptFileName(t)), `Prompt for ${t}.\n`);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('checkPromptsDir (api.promptsDir)', () => {
  it("accepts the repo's prompts/ and a complete directory", () => {
    expect(() => checkPromptsDir(path.join(REPO_ROOT, 'prompts'))).not.toThrow();
    expect(() => checkPromptsDir(dir)).not.toThrow();
  });

  it('refuses a missing chat type, naming the key, the file and the expected names', () => {
    unlinkSync(path.join(dir, 'whatToOrder.md'));
    expect(() => checkPromptsDir(dir)).toThrow(/^api\.promptsDir: .*whatToOrder\.md is missing \(one file per chat type: whereToGo\.md, whatToOrder\.md, somethingFun\.md, home\.md\)$/);
  });

  it.each([
    ['empty (whitespace only)', Buffer.from(' \n\t\n'), 'file is empty'],
    ['oversized', Buffer.alloc(MAX_PROMPT_BYTES + 1, 'a'), `larger than ${MAX_PROMPT_BYTES} bytes`],
    ['not UTF-8', Buffer.from([0x48, 0xff, 0xfe, 0x49]), 'not UTF-8 text'],
    ['binary', Buffer.from('text\u0000more'), 'file is binary'],
  ])('refuses a %s prompt with the reason the API would log', (_what, content, reason) => {
    writeFileSync(path.join(dir, 'home.md'), content);
    expect(() => checkPromptsDir(dir)).toThrow(`api.promptsDir: ${path.join(dir, 'home.md')}: ${reason}`);
    expect(parsePrompt(content)).toEqual({ problem: reason });
  });

  it('parsePrompt trims, and takes exactly the limit', () => {
    expect(parsePrompt(Buffer.from('\n  Be kind.  \n'))).toEqual({ text: 'Be kind.' });
    expect('text' in parsePrompt(Buffer.alloc(MAX_PROMPT_BYTES, 'a'))).toBe(true);
  });
});
