// Server-sent events exactly as OpenAI sends them: `data: <json>\n\n` per chunk, `data: [DONE]\n\n` at the end,
// each chunk written (and so flushed) on its own.
import type { ServerResponse } from 'node:http';
import type { ApiError } from './errors.js';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  // Proxies in front (tailscale serve, nginx) must not buffer the stream.
  'x-accel-buffering': 'no',
};

export function startSse(res: ServerResponse, extra: Record<string, string>): void {
  res.writeHead(200, { ...SSE_HEADERS, ...extra });
  res.flushHeaders();
  // Disable Nagle so each chunk leaves as soon as it is written.
  res.socket?.setNoDelay(true);
}

/** Writes one event; resolves when the socket can take more (backpressure reaches upstream through the await). */
export function writeData(res: ServerResponse, payload: string): Promise<void> | undefined {
  if (res.write(`data: ${payload}\n\n`)) return undefined;
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** An error after the stream started: one OpenAI-style error event (SDKs raise it), then the stream closes. */
export function endWithError(res: ServerResponse, err: ApiError): void {
  if (res.destroyed || res.writableEnded) return;
  res.end(`data: ${JSON.stringify(err.body())}\n\n`);
}

export function endWithDone(res: ServerResponse): void {
  if (res.destroyed || res.writableEnded) return;
  res.end('data: [DONE]\n\n');
}
