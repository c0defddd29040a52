import type { ChatType } from '../../common/chat-types.js';
// prompts/ is the single source of the system prompts; the build inlines them as text (esbuild text
// loader) so the OpenAI fallback answers in the same voice as the origin.
import whereToGo from '../../../prompts/whereToGo.md';
import whatToOrder from '../../../prompts/whatToOrder.md';
import somethingFun from '../../../prompts/somethingFun.md';
import home from '../../../prompts/home.md';

export const SYSTEM_PROMPTS: Readonly<Record<ChatType, string>> = { whereToGo, whatToOrder, somethingFun, home };
