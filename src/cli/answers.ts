import type { RunState } from '../consume/consume-service.ts';
import type { ReplayResult } from '../consume/dlq-replay.ts';
import type { ResetResult } from '../consume/offset-reset.ts';
import type { BackfillView, ChangeView, GroupPage, GroupView, LoadsView, MappingView, RebuildView, ResumeView } from '../protocol/admin.ts';
import type { BlockedGroup } from '../protocol/subscriptions.ts';
import { AdminCallError } from './admin-client.ts';

/**
 * Checks of the admin API's answers, one per command: JSON from the network is `unknown` until one of
 * these says it has the shape the command prints (a sidecar of another version, or a proxy's error
 * page, must not print `undefined` or crash on a missing field).
 */
export type Guard<T> = (value: unknown) => value is T;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isWhole = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

export const isTopicList: Guard<{ topics: string[] }> = (v): v is { topics: string[] } => isRecord(v) && Array.isArray(v.topics) && v.topics.every(isString);

const isGroupView: Guard<GroupView> = (v): v is GroupView => isRecord(v) && isString(v.group) && isWhole(v.partition) && isString(v.last_access);

export const isMappingView: Guard<MappingView> = (v): v is MappingView => isGroupView(v) && isString((v as { topic?: unknown }).topic);

export const isGroupPage: Guard<GroupPage> = (v): v is GroupPage =>
  isRecord(v) && Array.isArray(v.groups) && v.groups.every(isGroupView) && (v.next_cursor === null || isString(v.next_cursor));

export const isLoadsView: Guard<LoadsView> = (v): v is LoadsView =>
  isRecord(v) &&
  isString(v.topic) &&
  Array.isArray(v.partitions) &&
  v.partitions.every((p) => isRecord(p) && isWhole(p.partition) && isWhole(p.groups)) &&
  isWhole(v.total) &&
  typeof v.max_minus_min === 'number' &&
  typeof v.deviation === 'number';

export const isRebuildView: Guard<RebuildView> = (v): v is RebuildView => isRecord(v) && isString(v.topic) && isWhole(v.restored);
export const isBackfillView: Guard<BackfillView> = (v): v is BackfillView => isRecord(v) && isString(v.topic) && isWhole(v.logged);

export const isResumeView: Guard<ResumeView> = (v): v is ResumeView => isRecord(v) && isString(v.topic) && v.resumed === true;

export const isChangeView: Guard<ChangeView> = (v): v is ChangeView =>
  isRecord(v) &&
  isString(v.topic) &&
  isString(v.group) &&
  isWhole(v.previous_partition) &&
  (v.partition === null || isWhole(v.partition)) &&
  isString(v.last_access) &&
  typeof v.released === 'boolean';

const isBlockedGroup: Guard<BlockedGroup> = (v): v is BlockedGroup =>
  isRecord(v) &&
  isWhole(v.partition) &&
  (v.group === null || isString(v.group)) &&
  Array.isArray(v.offsets) &&
  v.offsets.every(isString) &&
  isWhole(v.attempt) &&
  (v.error === undefined || isString(v.error));

export const isBlockedList: Guard<{ blocked_groups: BlockedGroup[] }> = (v): v is { blocked_groups: BlockedGroup[] } =>
  isRecord(v) && Array.isArray(v.blocked_groups) && v.blocked_groups.every(isBlockedGroup);

export const isUnblocked: Guard<{ head: BlockedGroup }> = (v): v is { head: BlockedGroup } => isRecord(v) && isBlockedGroup(v.head);

const RUN_STATES = new Set(['starting', 'waiting-for-topic', 'running', 'stopping', 'stopped']);

export const isRunState: Guard<RunState> = (v): v is RunState => isRecord(v) && isString(v.subscription) && isString(v.state) && RUN_STATES.has(v.state);

export const isReset: Guard<ResetResult> = (v): v is ResetResult =>
  isRecord(v) &&
  isString(v.subscription) &&
  isString(v.topic) &&
  isString(v.consumer_group) &&
  isString(v.to) &&
  Array.isArray(v.partitions) &&
  v.partitions.every((p) => isRecord(p) && isWhole(p.partition) && (p.previous_offset === null || isString(p.previous_offset)) && isString(p.offset));

export const isReplayed: Guard<ReplayResult> = (v): v is ReplayResult =>
  isRecord(v) &&
  isString(v.subscription) &&
  isString(v.dead_letter_topic) &&
  isString(v.topic) &&
  Array.isArray(v.partitions) &&
  v.partitions.every((p) => isRecord(p) && isWhole(p.partition) && isString(p.start_offset) && isString(p.end_offset)) &&
  isWhole(v.read) &&
  isWhole(v.replayed) &&
  isWhole(v.duplicates) &&
  (v.dedup_unavailable === undefined || v.dedup_unavailable === true);

/** `body` as a `T`, or an AdminCallError naming what was expected and quoting what came. */
export function expectAnswer<T>(body: unknown, guard: Guard<T>, what: string): T {
  if (guard(body)) return body;
  throw new AdminCallError(`the sidecar's answer is not ${what}: ${String(JSON.stringify(body)).slice(0, 200)}`);
}
