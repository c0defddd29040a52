// `api.promptsDir` checked before anything is shipped, with the inference API's own rules
// (services/common/prompt-rules.ts): a missing, empty, oversized or non-text prompt fails the preview, naming the
// file, instead of reaching the host, where the API would answer with its last good or built-in prompt.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CHAT_TYPES } from '../../services/common/chat-types.js';
import { parsePrompt, promptFileName } from '../../services/common/prompt-rules.js';

export function checkPromptsDir(dir: string, key = 'api.promptsDir'): void {
  for (const chatType of CHAT_TYPES) {
    const file = path.join(dir, promptFileName(chatType));
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch {
      throw new Error(`${key}: ${file} is missing (one file per chat type: ${CHAT_TYPES.map(promptFileName).join(', ')})`);
    }
    const parsed = parsePrompt(buf);
    if ('problem' in parsed) throw new Error(`${key}: ${file}: ${parsed.problem}`);
  }
}
