import type { Router } from 'express';
import { SidecarError, invalid } from '../errors/sidecar-error.ts';
import type { ConsumeService, UnblockAction } from '../consume/consume-service.ts';
import { partitionNumber } from './admin-validate.ts';
import { smallJsonBody } from './json-body.ts';
import { replayFilter, resetTarget } from './operation-bodies.ts';

/**
 * Body of a retry or skip: `{"partition": N, "message_group": "g" | null, "offset"?: "N"}` (null: the records
 * without a group). `offset`, the head's first offset as the caller saw it (a decimal string, as the blocked
 * list shows it), makes the call act on that head only: a 409 when the group's head has moved since.
 */
function blockedHeadBody(body: unknown): { partition: number; group: string | null; offset: string | undefined } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('body', 'must be a JSON object {"partition": N, "message_group": "..."}');
  for (const key of Object.keys(body))
    if (key !== 'partition' && key !== 'message_group' && key !== 'offset')
      throw invalid(`body.${key}`, 'unknown field (allowed: partition, message_group, offset)');
  const { partition, message_group: group, offset } = body as { partition?: unknown; message_group?: unknown; offset?: unknown };
  const at = partitionNumber(partition);
  if (group !== null && (typeof group !== 'string' || group === ''))
    throw invalid('message_group', 'must be a non-empty string, or null for records without a group');
  if (offset !== undefined && (typeof offset !== 'string' || !/^\d{1,19}$/.test(offset)))
    throw invalid('offset', 'must be a decimal string: the first offset of the head, as the blocked groups list shows it');
  return { partition: at, group, offset: offset === undefined ? undefined : BigInt(offset).toString() };
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
      const { partition, group, offset } = blockedHeadBody(req.body);
      const head = await service().unblock(name(req.params.name), action, partition, group, offset);
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
