import type { ChangeView, LoadsView, MappingView } from '../admin/admin-service.ts';
import type { GroupPage, GroupView } from '../admin/list-groups.ts';
import type { BlockedGroup } from '../consume/group-dispatcher.ts';

/**
 * Checks that an /admin/v1 answer has the fields the CLI reads, with their types, so a sidecar of another
 * version is reported as such instead of printing "undefined". Extra fields are fine: a newer sidecar may add some.
 */
export type BodyCheck<T> = (body: unknown) => body is T;

type Fields = Record<string, unknown>;
const isFields = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number';
const isArrayOf = <T>(v: unknown, item: (i: unknown) => i is T): v is T[] => Array.isArray(v) && v.every(item);

export const isTopicList: BodyCheck<{ topics: string[] }> = (b): b is { topics: string[] } => isFields(b) && isArrayOf(b.topics, isString);

const isGroupView = (b: unknown): b is GroupView => isFields(b) && isString(b.group) && isNumber(b.partition) && isString(b.last_access);

export const isMapping: BodyCheck<MappingView> = (b): b is MappingView => isFields(b) && isString(b.topic) && isGroupView(b);

export const isGroupPage: BodyCheck<GroupPage> = (b): b is GroupPage =>
  isFields(b) && isArrayOf(b.groups, isGroupView) && (b.next_cursor === null || isString(b.next_cursor));

const isPartitionLoad = (p: unknown): p is LoadsView['partitions'][number] => isFields(p) && isNumber(p.partition) && isNumber(p.groups);

export const isLoads: BodyCheck<LoadsView> = (b): b is LoadsView =>
  isFields(b) && isString(b.topic) && isArrayOf(b.partitions, isPartitionLoad) && [b.total, b.max_minus_min, b.deviation].every(isNumber);

export const isChange: BodyCheck<ChangeView> = (b): b is ChangeView =>
  isFields(b) &&
  isString(b.topic) &&
  isString(b.group) &&
  isNumber(b.previous_partition) &&
  (b.partition === null || isNumber(b.partition)) &&
  isString(b.last_access) &&
  typeof b.released === 'boolean';

const isBlockedGroup = (b: unknown): b is BlockedGroup =>
  isFields(b) &&
  isNumber(b.partition) &&
  (b.group === null || isString(b.group)) &&
  isArrayOf(b.offsets, isString) &&
  isNumber(b.attempt) &&
  (b.error === undefined || isString(b.error));

export const isBlockedList: BodyCheck<{ blocked_groups: BlockedGroup[] }> = (b): b is { blocked_groups: BlockedGroup[] } =>
  isFields(b) && isArrayOf(b.blocked_groups, isBlockedGroup);

export const isBlockedHead: BodyCheck<{ head: BlockedGroup }> = (b): b is { head: BlockedGroup } => isFields(b) && isBlockedGroup(b.head);
