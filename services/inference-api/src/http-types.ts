// The request/response types the hot path needs: plain node:http objects (Express's extend them), plus a
// per-request `locals` bag for what the access log and metrics report.
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Locals = Record<string, unknown>;
export type Req = IncomingMessage & { body?: unknown; originalUrl?: string };
export type Res = ServerResponse & { locals: Locals };

export function withLocals(res: ServerResponse): Res {
  const r = res as Res;
  r.locals ??= Object.create(null) as Locals;
  return r;
}
