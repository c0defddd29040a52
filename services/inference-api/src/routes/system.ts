// GET /healthz (no auth: liveness for systemd and monitors; the detail only with a bearer token), GET /metrics (bearer), GET /v1/models.
import type { Request, Response } from 'express';
import type { AppContext } from '../context.js';
import type { Res } from '../http-types.js';
import { bearerFrom } from '../auth.js';
import { refuseUnauthorized } from './chat.js';

export function healthz(ctx: AppContext) {
  return async (req: Request, res: Response): Promise<void> => {
    res.locals.route = '/healthz';
    const ok = await ctx.upstreamHealthy();
    const status = ok && !ctx.state.draining ? 200 : 503;
    // The Funnel URL serves this to the whole internet: without a token only ok/degraded, no model or version.
    const token = bearerFrom(req.headers.authorization);
    if (!ctx.apiTokens.accepts(token) && !ctx.metricsTokens.accepts(token)) {
      res.status(status).json({ status: status === 200 ? 'ok' : 'degraded' });
      return;
    }
    res.status(status).json({
      status: ok && !ctx.state.draining ? 'ok' : 'degraded',
      upstream: ok ? 'ok' : 'down',
      ...(ctx.state.draining ? { draining: true } : {}),
      model: ctx.config.UPSTREAM_MODEL,
      version: ctx.config.version,
      uptime_s: Math.floor((Date.now() - ctx.startedAt) / 1000),
    });
  };
}

export function metricsRoute(ctx: AppContext) {
  return async (req: Request, res: Response): Promise<void> => {
    res.locals.route = '/metrics';
    if (refuseUnauthorized(req, res as Res, (t) => ctx.metricsTokens.accepts(t), 'metrics bearer token')) return;
    // Keeps fudbuddy_api_upstream_up fresh at scrape time (cached, so scrapes cost no upstream calls).
    await ctx.upstreamHealthy();
    res.setHeader('content-type', ctx.metrics.registry.contentType);
    res.end(await ctx.metrics.registry.metrics());
  };
}

export function models(ctx: AppContext) {
  return (_req: Request, res: Response): void => {
    res.locals.route = '/v1/models';
    res.json({
      object: 'list',
      data: [{ id: ctx.config.UPSTREAM_MODEL, object: 'model', created: Math.floor(ctx.startedAt / 1000), owned_by: 'fudbuddy' }],
    });
  };
}
