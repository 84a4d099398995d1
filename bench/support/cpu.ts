import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { fmtNum } from './format.ts';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used, from /proc; undefined when unreadable. */
export function processCpuSeconds(pid: number): number | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. */
function machineCpuSeconds(): { busy: number; total: number } | undefined {
  const line = readText('/proc/stat')?.split('\n')[0];
  if (!line) return undefined;
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

/** The local stack's broker (node 1) and Redis, when they run on this machine. */
export async function servicePids(redis: Redis): Promise<{ kafka?: number; redis?: number }> {
  const stackDir = process.env.STACK_DIR ?? join(import.meta.dirname, '..', '..', '.stack');
  const kafka = Number(readText(join(stackDir, 'kafka', 'node-1', 'kafka.pid'))?.trim());
  const local = /^(127\.|localhost$|::1$)/.test(redis.options.host ?? '');
  const redisPid = local ? Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]) : NaN;
  return { kafka: Number.isFinite(kafka) && kafka > 0 ? kafka : undefined, redis: Number.isFinite(redisPid) ? redisPid : undefined };
}

/** Cores used on average during a window, per process and for the machine; event loop busy share of this process. */
export interface CpuUsage {
  self: number;
  kafka?: number;
  redis?: number;
  machineBusy?: number;
  cores: number;
  eventLoop: number;
}

export interface CpuWindow {
  stop(): CpuUsage;
}

/** Starts measuring CPU use of this process, the broker, Redis and the machine. */
export function cpuWindow(pids: { kafka?: number; redis?: number }, cores: number): CpuWindow {
  const started = performance.now();
  const self = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const kafka = pids.kafka === undefined ? undefined : processCpuSeconds(pids.kafka);
  const redis = pids.redis === undefined ? undefined : processCpuSeconds(pids.redis);
  const machine = machineCpuSeconds();
  return {
    stop() {
      const seconds = (performance.now() - started) / 1000;
      const used = process.cpuUsage(self);
      const delta = (pid: number | undefined, from: number | undefined): number | undefined => {
        const now = pid === undefined ? undefined : processCpuSeconds(pid);
        return now === undefined || from === undefined ? undefined : (now - from) / seconds;
      };
      const machineNow = machineCpuSeconds();
      return {
        self: (used.user + used.system) / 1e6 / seconds,
        kafka: delta(pids.kafka, kafka),
        redis: delta(pids.redis, redis),
        machineBusy: machine && machineNow ? ((machineNow.busy - machine.busy) / (machineNow.total - machine.total)) * cores : undefined,
        cores,
        eventLoop: performance.eventLoopUtilization(elu).utilization,
      };
    },
  };
}

export function describeCpu(usage: CpuUsage, selfLabel: string, extra: { label: string; cores: number | undefined }[] = []): string {
  const part = (label: string, v: number | undefined): string => (v === undefined ? `${label} n/a` : `${label} ${fmtNum(v, 2)}`);
  const ours = usage.self + (usage.kafka ?? 0) + (usage.redis ?? 0) + extra.reduce((a, e) => a + (e.cores ?? 0), 0);
  const others = usage.machineBusy === undefined ? undefined : Math.max(0, usage.machineBusy - ours);
  return [
    part(selfLabel, usage.self),
    ...extra.map((e) => part(e.label, e.cores)),
    part('Kafka broker', usage.kafka),
    part('Redis', usage.redis),
    part('everything else on the machine', others),
    part(`machine total (of ${usage.cores})`, usage.machineBusy),
  ].join(', ') + ` cores; this process's event loop busy ${fmtNum(usage.eventLoop * 100, 0)} %`;
}
