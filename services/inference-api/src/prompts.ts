// System prompts, one Markdown file per chat type, reloaded on change (fs.watch) and on SIGHUP. A broken, empty or
// missing file never takes the server down: the last good text stays in use and the failure is logged and counted.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CHAT_TYPES, type ChatType, isChatType } from '../../common/chat-types.js';
import { parsePrompt, promptFileName } from '../../common/prompt-rules.js';
import type { Logger } from './logger.js';

// Used only when a prompt file is unreadable at start (no last good version exists yet).
const FALLBACK = 'You are FUD Buddy, a friendly, concise food and going-out companion. Answer helpfully and briefly.';

export class PromptStore {
  private readonly prompts = new Map<ChatType, string>();
  private watcher: FSWatcher | undefined;
  private pending = new Map<string, NodeJS.Timeout>();

  constructor(
    readonly dir: string,
    private readonly log: Logger,
    private readonly onError: () => void,
  ) {}

  get(chatType: ChatType): string {
    return this.prompts.get(chatType) ?? FALLBACK;
  }

  async loadAll(): Promise<void> {
    await Promise.all(CHAT_TYPES.map((t) => this.load(t)));
  }

  /** Reads one prompt; keeps the previous text when the file is missing, empty, too big or not UTF-8 text. */
  async load(chatType: ChatType): Promise<boolean> {
    const file = path.join(this.dir, promptFileName(chatType));
    try {
      const buf = await readFile(file);
      const parsed = parsePrompt(buf);
      if ('problem' in parsed) throw new Error(parsed.problem);
      const { text } = parsed;
      const changed = this.prompts.get(chatType) !== text;
      this.prompts.set(chatType, text);
      if (changed) this.log.info({ chatType, bytes: buf.length }, 'prompt loaded');
      return true;
    } catch (err) {
      this.onError();
      this.log.error(
        { chatType, file, err: (err as Error).message, keeping: this.prompts.has(chatType) ? 'last good prompt' : 'built-in fallback' },
        'prompt load failed',
      );
      return false;
    }
  }

  /** Watches the directory (not the files) so editors that save by rename are seen too. */
  watch(): void {
    try {
      this.watcher = watch(this.dir, { persistent: false }, (_event, filename) => {
        const name = filename ? path.basename(filename.toString(), '.md') : undefined;
        if (name && isChatType(name)) this.schedule(name);
        else if (!filename) for (const t of CHAT_TYPES) this.schedule(t);
      });
      this.watcher.on('error', (err) => this.log.error({ err: err.message }, 'prompt watcher failed; SIGHUP still reloads'));
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'cannot watch prompts; SIGHUP still reloads');
    }
  }

  // Editors write in several steps; a short debounce reads the file once it has settled.
  private schedule(chatType: ChatType): void {
    clearTimeout(this.pending.get(chatType));
    this.pending.set(
      chatType,
      setTimeout(() => {
        this.pending.delete(chatType);
        void this.load(chatType);
      }, 50),
    );
  }

  close(): void {
    this.watcher?.close();
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
  }
}
