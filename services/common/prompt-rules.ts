// What makes a system-prompt file usable: one `<chatType>.md` per chat type, UTF-8 text, not empty, at most 64 KiB.
// The inference API applies it on every (re)load and keeps its last good text when a file fails; the Pulumi program
// applies it to `api.promptsDir` before anything is shipped, so a broken prompt fails the preview instead.
import type { ChatType } from './chat-types.js';

export const MAX_PROMPT_BYTES = 64 * 1024;

export function promptFileName(chatType: ChatType): string {
  return `${chatType}.md`;
}

/** The prompt's text (trimmed), or why the file cannot be used. */
export function parsePrompt(buf: Uint8Array): { text: string } | { problem: string } {
  if (buf.length > MAX_PROMPT_BYTES) return { problem: `larger than ${MAX_PROMPT_BYTES} bytes` };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf).trim();
  } catch {
    return { problem: 'not UTF-8 text' };
  }
  if (!text) return { problem: 'file is empty' };
  if (text.includes('\u0000')) return { problem: 'file is binary' };
  return { text };
}
