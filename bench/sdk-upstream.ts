// The API's UpstreamClient over the official `openai` SDK: the benchmark's comparison, not a production path (the
// SDK parses every chunk into an object that is then serialised again, and it goes through fetch; the figures in
// docs/inference-api.md show what that costs, and why the API talks to vLLM with undici). bench/sdk-api.ts runs the
// API with it; tests/inference-api/upstream-clients.test.ts holds both clients to the same behaviour.
import OpenAI from 'openai';
import { CallGuard, guardedStream, messageFromErrorBody, UpstreamError, type StreamHandle, type UpstreamClient, type UpstreamOptions } from '../services/inference-api/src/upstream.js';

export class OpenAIUpstream implements UpstreamClient {
  private readonly client: OpenAI;

  constructor(private readonly o: UpstreamOptions) {
    this.client = new OpenAI({ baseURL: o.baseUrl, apiKey: o.apiKey ?? 'unused', maxRetries: 0, timeout: o.totalTimeoutMs });
  }

  private fail(err: unknown, guard: CallGuard, started: boolean): unknown {
    if (guard.clientGone) return err;
    let e: UpstreamError;
    if (err instanceof UpstreamError) e = err;
    else if (guard.timedOut || err instanceof OpenAI.APIConnectionTimeoutError) e = new UpstreamError('timeout', `upstream ${guard.timedOut ?? 'total'} timeout`);
    else if (err instanceof OpenAI.APIError && err.status !== undefined) {
      e = new UpstreamError('status', `upstream answered ${err.status}`, err.status, messageFromErrorBody(JSON.stringify({ error: err.error })) ?? err.message);
    } else if (err instanceof OpenAI.APIConnectionError && !started) e = new UpstreamError('connect', 'upstream unreachable');
    else e = new UpstreamError('stream', 'upstream connection failed');
    this.o.metrics.upstreamErrors.inc({ kind: e.kind });
    return e;
  }

  async complete(body: object, clientSignal: AbortSignal): Promise<unknown> {
    const guard = new CallGuard(clientSignal, 'total', this.o.totalTimeoutMs);
    try {
      const reply = await this.client.chat.completions.create({ ...(body as OpenAI.ChatCompletionCreateParamsNonStreaming), stream: false }, { signal: guard.signal });
      guard.finished();
      return reply;
    } catch (err) {
      throw this.fail(err, guard, false);
    } finally {
      guard.close();
    }
  }

  async stream(body: object, clientSignal: AbortSignal): Promise<StreamHandle> {
    const guard = new CallGuard(clientSignal, 'first-token', this.o.firstTokenTimeoutMs);
    let stream: AsyncIterable<OpenAI.ChatCompletionChunk>;
    try {
      stream = await this.client.chat.completions.create({ ...(body as OpenAI.ChatCompletionCreateParamsStreaming), stream: true }, { signal: guard.signal });
    } catch (err) {
      guard.close();
      throw this.fail(err, guard, false);
    }
    async function* payloads(): AsyncGenerator<string> {
      for await (const chunk of stream) yield JSON.stringify(chunk);
      // The SDK ends its iterator quietly when the request is aborted (our timeouts included), so check.
      if (guard.signal.aborted) throw new Error('upstream call aborted');
      // The SDK consumes `[DONE]`; re-emit it for the passthrough.
      yield '[DONE]';
    }
    return guardedStream(guard, payloads(), (err) => this.fail(err, guard, true), this.o.idleTimeoutMs);
  }

  async probe(timeoutMs: number): Promise<boolean> {
    try {
      await this.client.models.list({ timeout: timeoutMs });
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {}
}
