import type { ChatType } from '../aiService.js';

export const CHAT_TYPE_LABELS: Record<ChatType, { title: string; hint: string }> = {
  whereToGo: { title: 'Where to go', hint: 'Places to eat or drink nearby' },
  whatToOrder: { title: 'What to order', hint: 'Dishes and drinks worth trying' },
  somethingFun: { title: 'Something fun', hint: 'Food adventures and ideas' },
  home: { title: 'Home', hint: 'Cooking and anything else' },
};
