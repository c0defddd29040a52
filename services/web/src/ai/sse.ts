// The web client reads the stream with the stack's one SSE decoder (services/common/sse.ts, over eventsource-parser).
export { SseDecoder as SseParser, type SseEvent } from '../../../common/sse.js';
