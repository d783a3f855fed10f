import type { RequestHandler } from 'express';
import { httpRequestDuration, httpRequests } from '../../shared/metrics.ts';

/** Counts and times every request by its route template (never its concrete path). */
export const httpMetrics: RequestHandler = (req, res, next) => {
  const started = performance.now();
  res.once('finish', () => {
    const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
    const labels = { method: req.method, route, status: String(res.statusCode) };
    httpRequests.inc(labels);
    httpRequestDuration.observe(labels, (performance.now() - started) / 1000);
  });
  next();
};
