// Preferences the Config page keeps in localStorage: nothing secret, nothing that identifies a person.
import { CHAT_TYPES, type ChatType } from './aiService.js';

export interface Prefs {
  preferredChatType: ChatType;
  /** A hint passed as metadata.model_hint; the servers may ignore it. */
  modelHint: string;
}

const KEY = 'fudbuddy.prefs.v1';
const INVITE_KEY = 'fudbuddy.invite';
export const MODEL_HINT_PATTERN = /^[A-Za-z0-9._:/-]{0,64}$/;
export const DEFAULT_PREFS: Prefs = { preferredChatType: 'home', modelHint: '' };

function isChatType(v: unknown): v is ChatType {
  return typeof v === 'string' && (CHAT_TYPES as readonly string[]).includes(v);
}

export function loadPrefs(storage: Storage | undefined = globalThis.localStorage): Prefs {
  try {
    const raw = storage?.getItem(KEY);
    if (!raw) return { ...DEFAULT_PREFS };
    const v = JSON.parse(raw) as Partial<Record<keyof Prefs, unknown>>;
    return {
      preferredChatType: isChatType(v.preferredChatType) ? v.preferredChatType : DEFAULT_PREFS.preferredChatType,
      modelHint: typeof v.modelHint === 'string' && MODEL_HINT_PATTERN.test(v.modelHint) ? v.modelHint : '',
    };
  } catch {
    return { ...DEFAULT_PREFS }; // storage disabled or garbage: defaults, never a crash
  }
}

export function savePrefs(prefs: Prefs, storage: Storage | undefined = globalThis.localStorage): boolean {
  try {
    storage?.setItem(KEY, JSON.stringify({ preferredChatType: prefs.preferredChatType, modelHint: prefs.modelHint }));
    return true;
  } catch {
    return false;
  }
}

// The beta invite code is a personal credential, so it lives in sessionStorage (this tab only), not
// with the preferences.
export function loadInviteCode(): string {
  try {
    return globalThis.sessionStorage?.getItem(INVITE_KEY) ?? '';
  } catch {
    return '';
  }
}

export function saveInviteCode(code: string): void {
  try {
    if (code) globalThis.sessionStorage?.setItem(INVITE_KEY, code);
    else globalThis.sessionStorage?.removeItem(INVITE_KEY);
  } catch {
    /* storage disabled: the code is simply not kept */
  }
}
