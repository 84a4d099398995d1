import express, { type Request, type Router } from 'express';
import { requireAdminToken, type BearerToken } from './bearer-token.ts';
import { sameOriginGuard } from './same-origin-guard.ts';
import type { AdminService } from '../admin/index.ts';
import type { ConsumeService } from '../consume/consume-service.ts';
import { addSubscriptionRoutes } from './subscription-routes.ts';
import { smallJsonBody } from './json-body.ts';
import { refuseOtherMethods } from './other-methods.ts';
import { overviewOf, type OverviewDeps } from './overview.ts';
import { cursorParam, groupParam, limitParam, movePartition, prefixParam, topicParam } from './admin-validate.ts';

export interface AdminRouterDeps {
  service: AdminService;
  /**
   * ADMIN_TOKEN or ADMIN_TOKEN_FILE; undefined leaves the endpoints open to local callers: the loopback bind, and the
   * guard's Host check (same-origin-guard.ts), which keeps other websites' pages out by DNS rebinding.
   */
  token: BearerToken | undefined;
  /** Ordered consumption, for retrying or skipping blocked groups; undefined without subscriptions. */
  consume?: ConsumeService | undefined;
  /** What GET /overview reads besides the subscriptions (version, engine, Kafka writes). */
  overview: Omit<OverviewDeps, 'consume'>;
}

/** A move body is one small object; anything bigger is not a move. */
const moveBody = smallJsonBody(1024, 'a move body is {"partition": N}');

/** `/admin/v1/*`: MessageGroup mapping query and management (see docs/operations.md, Admin tools). */
export function createAdminRouter(deps: AdminRouterDeps): Router {
  const { service } = deps;
  const router = express.Router();
  // Before the token: another website's request is refused whether or not the browser holds a token to send.
  router.use(sameOriginGuard({ name: 'admin API', token: deps.token, jsonWrites: true, navigations: false }));
  router.use(requireAdminToken(deps.token));
  // Admin answers describe live state: never cache them.
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  const topic = (req: Request): string => topicParam(req.params.topic);
  const group = (req: Request): string => groupParam(req.params.group, service.maxGroupBytes);

  router.get('/overview', async (_req, res) => {
    res.json(await overviewOf({ ...deps.overview, consume: deps.consume }));
  });
  router.get('/topics', async (_req, res) => {
    res.json({ topics: await service.topics() });
  });
  router.get('/topics/:topic/loads', async (req, res) => {
    res.json(await service.loads(topic(req)));
  });
  router.get('/topics/:topic/groups', async (req, res) => {
    const t = topic(req);
    const page = { cursor: cursorParam(req.query.cursor), limit: limitParam(req.query.limit), prefix: prefixParam(req.query.prefix, service.maxGroupBytes) };
    res.json(await service.list(t, page));
  });
  router.get('/topics/:topic/groups/:group', async (req, res) => {
    res.json(await service.mapping(topic(req), group(req)));
  });
  router.delete('/topics/:topic/groups/:group', async (req, res) => {
    res.json(await service.release(topic(req), group(req)));
  });
  router.post('/topics/:topic/groups/:group/move', moveBody, async (req, res) => {
    const [t, g] = [topic(req), group(req)];
    res.json(await service.move(t, g, movePartition(req.body)));
  });
  router.post('/topics/:topic/rebuild', async (req, res) => {
    res.json(await service.rebuild(topic(req)));
  });
  router.post('/topics/:topic/backfill', async (req, res) => {
    res.json(await service.backfill(topic(req)));
  });
  router.post('/topics/:topic/resume', async (req, res) => {
    res.json(await service.resume(topic(req)));
  });
  addSubscriptionRoutes(router, deps.consume, service.maxGroupBytes);
  router.use(refuseOtherMethods(router));
  return router;
}
