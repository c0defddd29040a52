// Helpers of the hostile-client suites: what an answer really cost (as the model stub counts it), what the Worker
// reserves at most for one request, and reading usage out of replies.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { Readable } from 'node:stream';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { WORKER_SETTINGS } from '../../services/edge-worker/src/defaults.js';
import { estimatePromptTokens } from '../../services/edge-worker/src/meter.js';
import type { StubHandle } from '../../services/model-stub/src/stub.js';
import { estimateTokens } from '../../services/model-stub/src/tokens.js';
import { ALLOWED_ORIGIN, ROOT, type WorkerHandle } from './harness.js';

export const sessionOf = (token: string): string => String(decodeJwt(token).sub);

/** The most one request of `messages` (chat type home, no max_tokens) can reserve. */
export function maxReservation(messages: Array<{ content: string }>, chatType = 'home'): number {
  const prompt = readFileSync(path.join(ROOT, 'prompts', `${chatType}.md`), 'utf8');
  return estimatePromptTokens(prompt, messages) + WORKER_SETTINGS.MAX_TOKENS_CAP.default;
}

type Sent = { messages: Array<{ content: string | Array<{ text: string }> }> };
const textOf = (c: Sent['messages'][number]['content']): string => (typeof c === 'string' ? c : c.map((p) => p.text).join(''));

/** Prompt tokens of one request the stub received, counted the way the stub counts them (its usage figures). */
export function promptTokensOf(body: unknown): number {
  return estimateTokens((body as Sent).messages.map((m) => textOf(m.content)).join('\n'));
}

/** Tokens the stub generated so far (its vLLM-named counter), whether or not anyone read them. */
export async function generatedTokens(stub: StubHandle): Promise<number> {
  const text = await (await fetch(`${stub.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('vllm:generation_tokens_total{'));
  return Number(line?.split(' ').at(-1) ?? NaN);
}

/** total_tokens of a reply: the JSON usage, or the streamed usage chunk (undefined when there is none). */
export async function usageOf(res: Response): Promise<number | undefined> {
  const text = await res.text();
  if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    for (const line of text.split('\n')) {
      if (!line.startsWith('data: {')) continue;
      const chunk = JSON.parse(line.slice(6)) as { usage?: { total_tokens?: number } | null };
      if (typeof chunk.usage?.total_tokens === 'number') return chunk.usage.total_tokens;
    }
    return undefined;
  }
  return (JSON.parse(text) as { usage?: { total_tokens?: number } }).usage?.total_tokens;
}

export async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

/** One line the suites print so the figures of a run can be read off (SECURITY.md quotes them). */
export function report(attack: string, figures: Record<string, number | string>): void {
  console.log(`[hostile] ${attack}: ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

/**
 * A chat on its own connection (`Connection: close`). Bursts of parallel requests with idle gaps between them would
 * otherwise reuse pooled keep-alive sockets that workerd closes after 5 s idle, and lose that race as "other side
 * closed" (cloudflare/workers-sdk#15252; Miniflare's own dispatchFetch avoids keep-alive for the same reason).
 */
export function chatOwnConnection(worker: WorkerHandle, token: string, body: unknown): Promise<Response> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(`${worker.url}/v1/chat/completions`, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), origin: ALLOWED_ORIGIN, authorization: `Bearer ${token}`, connection: 'close' },
    });
    req.on('response', (res) => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
      resolve(new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, { status: res.statusCode ?? 0, headers }));
    });
    req.on('error', reject);
    req.end(text);
  });
}
