import { invalid } from '../errors/sidecar-error.ts';
import { MAX_LIST_LIMIT } from '../protocol/admin.ts';
import { topicNameProblem } from '../protocol/topic-name.ts';
import { LONE_SURROGATE } from '../produce/validate-request.ts';

/** The produce path's rule: a topic the sidecar could never have mapped is a typo. */
export function topicParam(raw: unknown): string {
  if (typeof raw !== 'string') throw invalid('topic', 'must be a string');
  const problem = topicNameProblem(raw);
  if (problem) throw invalid('topic', problem);
  return raw;
}

/** Same limits as message_group on the produce path: a group the sidecar could never have mapped is a typo. */
export function groupParam(raw: unknown, maxGroupBytes: number): string {
  if (typeof raw !== 'string' || raw === '') throw invalid('group', 'must not be empty');
  if (!raw.isWellFormed()) throw invalid('group', LONE_SURROGATE);
  if (Buffer.byteLength(raw) > maxGroupBytes) throw invalid('group', `is over the limit of ${maxGroupBytes} bytes`);
  return raw;
}

/** A group-name prefix to list by: '' (all) when absent, else within a group's own limits. */
export function prefixParam(raw: unknown, maxGroupBytes: number): string {
  if (raw === undefined || raw === '') return '';
  if (typeof raw !== 'string') throw invalid('prefix', 'must be given once');
  if (!raw.isWellFormed()) throw invalid('prefix', LONE_SURROGATE);
  if (Buffer.byteLength(raw) > maxGroupBytes) throw invalid('prefix', `is over the limit of ${maxGroupBytes} bytes`);
  return raw;
}

const DEFAULT_LIST_LIMIT = 100;

export function limitParam(raw: unknown): number {
  if (raw === undefined || raw === '') return DEFAULT_LIST_LIMIT;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_LIST_LIMIT) {
    throw invalid('limit', `must be a whole number from 1 to ${MAX_LIST_LIMIT}`);
  }
  return Number(raw);
}

export function cursorParam(raw: unknown): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string') throw invalid('cursor', 'must be given once, as returned in next_cursor');
  return raw;
}

/** Body of a move: `{"partition": N}` and nothing else. */
export function movePartition(body: unknown): number {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('body', 'must be a JSON object {"partition": N}');
  for (const key of Object.keys(body)) if (key !== 'partition') throw invalid(`body.${key}`, 'unknown field (allowed: partition)');
  return partitionNumber((body as { partition?: unknown }).partition);
}

/** A partition named in a request body: a whole number >= 0 (whether the topic has it is checked later). */
export function partitionNumber(raw: unknown): number {
  if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < 0) throw invalid('partition', 'must be a whole number >= 0');
  return raw;
}
