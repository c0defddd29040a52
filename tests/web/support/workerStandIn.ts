// A stand-in for the edge Worker's HTTP contract (POST /v1/token, POST /v1/chat with OpenAI-style SSE),
// served by a real node:http server on an ephemeral loopback port. Each test scripts the answers.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Date.now() when the request arrived (the fake clock, when a test fakes Date). */
  at: number;
  /** Resolves when the client closes the connection before the response finished. */
  closedEarly: Promise<void>;
}

export type Handler = (req: Recorded, res: http.ServerResponse, n: number) => void | Promise<void>;

export interface StandIn {
  url: string;
  requests: Recorded[];
  chat: Recorded[];
  token: Recorded[];
  onChat: Handler;
  onToken: Handler;
  /** Resolves when the n-th (1-based) chat request has arrived. */
  chatArrived(n: number): Promise<Recorded>;
  close(): Promise<void>;
}

export function sseChunk(content: string, extra: Record<string, unknown> = {}): string {
  return `data: ${JSON.stringify({ id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1, model: 'stub', choices: [{ index: 0, delta: { content }, finish_reason: null }], ...extra })}\n\n`;
}

export function sseStream(pieces: string[]): string {
  return pieces.map((p) => sseChunk(p)).join('') + 'data: [DONE]\n\n';
}

export function sendSse(res: http.ServerResponse, req: Recorded, body: string | Buffer, servedBy = 'origin'): void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    'X-Request-Id': String(req.headers['x-request-id'] ?? 'none'),
    'X-Served-By': servedBy,
  });
  res.end(body);
}

export function sendError(res: http.ServerResponse, req: Recorded, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'X-Request-Id': String(req.headers['x-request-id'] ?? 'none'), ...headers });
  res.end(JSON.stringify({ error: { message, type: 'invalid_request_error', code: `http_${status}`, param: null } }));
}

let tokenSerial = 0;
export function issueToken(res: http.ServerResponse, ttlSeconds = 900): void {
  tokenSerial++;
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ token: `tok-${tokenSerial}`, expires_at: Math.floor((Date.now() + ttlSeconds * 1000) / 1000) }));
}

export async function startStandIn(): Promise<StandIn> {
  const waiters: { n: number; resolve: (r: Recorded) => void }[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const state: StandIn = {
    url: '',
    requests: [],
    chat: [],
    token: [],
    onChat: (req, res) => sendSse(res, req, sseStream(['hello'])),
    onToken: (_req, res) => issueToken(res),
    chatArrived: (n) =>
      new Promise((resolve) => {
        const have = state.chat[n - 1];
        if (have) resolve(have);
        else waiters.push({ n, resolve });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let closed!: () => void;
      const closedEarly = new Promise<void>((r) => (closed = r));
      res.on('close', () => {
        if (!res.writableFinished) closed();
      });
      const rec: Recorded = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
        closedEarly,
      };
      state.requests.push(rec);
      const route = `${rec.method} ${rec.path}`;
      if (route === 'POST /v1/token') {
        state.token.push(rec);
        void state.onToken(rec, res, state.token.length);
      } else if (route === 'POST /v1/chat') {
        state.chat.push(rec);
        const n = state.chat.length;
        for (const w of waiters.filter((x) => x.n === n)) w.resolve(rec);
        void state.onChat(rec, res, n);
      } else {
        sendError(res, rec, 404, 'not found');
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
