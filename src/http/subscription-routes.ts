import type { Router } from 'express';
import { SidecarError, invalid } from '../errors/sidecar-error.ts';
import type { ConsumeService, UnblockAction } from '../consume/consume-service.ts';
import { partitionNumber } from './admin-validate.ts';
import { smallJsonBody } from './json-body.ts';
import { replayFilter, resetTarget } from './operation-bodies.ts';

/** Body of a retry or skip: `{"partition": N, "message_group": "g" | null}` (null: the records without a group). */
function blockedHeadBody(body: unknown): { partition: number; group: string | null } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('body', 'must be a JSON object {"partition": N, "message_group": "..."}');
  for (const key of Object.keys(body))
    if (key !== 'partition' && key !== 'message_group') throw invalid(`body.${key}`, 'unknown field (allowed: partition, message_group)');
  const { partition, message_group: group } = body as { partition?: unknown; message_group?: unknown };
  const at = partitionNumber(partition);
  if (group !== null && (typeof group !== 'string' || group === ''))
    throw invalid('message_group', 'must be a non-empty string, or null for records without a group');
  return { partition: at, group };
}

/** A retry or skip body is one small object: a partition and a group name. */
const headBody = smallJsonBody(4096, 'a retry or skip body is {"partition": N, "message_group": "..."}');
const resetBody = smallJsonBody(1024, 'a reset body is {"to": "earliest" | "latest" | "<time>"}');
const replayBody = smallJsonBody(4096, 'a replay body is {"message_group"?: "...", "from"?: "<time>", "to"?: "<time>"}');

/**
 * `/admin/v1/subscriptions/:name/blocked[/retry|/skip]`: the groups that exhausted their attempts under
 * `on_exhausted: block`, and the calls that move them on. Only the replica owning the partition knows its
 * blocked groups; `GET /v1/subscriptions` on each replica shows where a group is.
 * `stop`, `start` (this replica), `reset` (the consumer group, only while stopped everywhere) and
 * `dlq/replay` (the dead letters, produced again through the ordered path).
 */
export function addSubscriptionRoutes(router: Router, consume: ConsumeService | undefined, maxGroupBytes: number): void {
  const service = (): ConsumeService => {
    if (!consume) throw new SidecarError('NOT_FOUND', 'this sidecar has no subscriptions (SUBSCRIPTIONS_FILE is not set)');
    return consume;
  };
  const name = (raw: unknown): string => (typeof raw === 'string' ? raw : '');
  router.get('/subscriptions/:name/blocked', (req, res) => {
    res.json({ subscription: req.params.name, blocked_groups: service().blocked(name(req.params.name)) });
  });
  for (const action of ['retry', 'skip'] as const satisfies UnblockAction[]) {
    router.post(`/subscriptions/:name/blocked/${action}`, headBody, async (req, res) => {
      const { partition, group } = blockedHeadBody(req.body);
      const head = await service().unblock(name(req.params.name), action, partition, group);
      res.json({ subscription: req.params.name, action, head });
    });
  }
  router.post('/subscriptions/:name/stop', async (req, res) => {
    res.json(await service().stopOne(name(req.params.name)));
  });
  router.post('/subscriptions/:name/start', (req, res) => {
    res.json(service().startOne(name(req.params.name)));
  });
  router.post('/subscriptions/:name/reset', resetBody, async (req, res) => {
    const target = resetTarget(req.body);
    res.json(await service().reset(name(req.params.name), target));
  });
  router.post('/subscriptions/:name/dlq/replay', replayBody, async (req, res) => {
    const filter = replayFilter(req.body, maxGroupBytes);
    res.json(await service().replay(name(req.params.name), filter));
  });
}
