import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
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

/** Resident memory now and its peak over the process's life (VmRSS, VmHWM), in bytes; undefined when unreadable. */
export function processMemory(pid: number): { rss: number; peak: number } | undefined {
  const status = readText(`/proc/${pid}/status`);
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status ?? '')?.[1] ?? NaN) * 1024;
  return status === undefined ? undefined : { rss: kb('VmRSS'), peak: kb('VmHWM') };
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

/** A process whose CPU a window measures; `pid` undefined when it could not be found (shown as n/a). */
export interface Watched {
  label: string;
  pid: number | undefined;
}

const isLocalHost = (host: string): boolean => /^(127\.|localhost$|::1$|\[::1\]$)/.test(host);

/** Inodes of the sockets listening on `port` (any address), from /proc/net/tcp and tcp6. */
function listeningInodes(port: number): Set<string> {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (readText(table) ?? '').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // fields: sl, local address, remote address, state (0A = LISTEN), ..., inode (10th)
      if (fields[1]?.endsWith(hexPort) && fields[3] === '0A' && fields[9] !== undefined) inodes.add(fields[9]);
    }
  }
  return inodes;
}

/** The process that listens on a local TCP port, found by the socket's inode among every process's open files. */
export function portOwner(port: number): number | undefined {
  const sockets = new Set([...listeningInodes(port)].map((inode) => `socket:[${inode}]`));
  if (sockets.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      try {
        if (sockets.has(readlinkSync(`/proc/${entry}/fd/${fd}`))) return Number(entry);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/** The broker's pid from the local stack's pid file, if that process is alive and is Kafka. */
function stackBrokerPid(): number | undefined {
  const stackDir = process.env.STACK_DIR ?? join(import.meta.dirname, '..', '..', '.stack');
  const pid = Number(readText(join(stackDir, 'kafka', 'node-1', 'kafka.pid'))?.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return readText(`/proc/${pid}/cmdline`)?.includes('kafka') ? pid : undefined;
}

/**
 * The first broker's and Redis's processes, when they run on this machine: the broker from the stack's pid file
 * (`STACK_DIR`, default `.stack`) or else as the owner of its listening port (a worktree has no `.stack` of its
 * own), Redis from `INFO server`.
 */
export async function servicePids(redis: Redis, kafkaBrokers: readonly string[]): Promise<Watched[]> {
  const [host = '', port = ''] = (kafkaBrokers[0] ?? '').split(/:(?=\d+$)/);
  const kafka = stackBrokerPid() ?? (isLocalHost(host) ? portOwner(Number(port)) : undefined);
  const redisPid = isLocalHost(redis.options.host ?? '') ? Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]) : NaN;
  return [
    { label: 'Kafka broker', pid: kafka },
    { label: 'Redis', pid: Number.isFinite(redisPid) ? redisPid : undefined },
  ];
}

/** Cores each watched process used on average during a window, and the whole machine's busy cores. */
export interface CpuUsage {
  seconds: number;
  processes: { label: string; cores: number | undefined }[];
  machineBusy: number | undefined;
  machineCores: number;
}

export interface CpuWindow {
  stop(): CpuUsage;
}

/** Starts measuring the CPU of the watched processes and of the machine, from /proc. */
export function cpuWindow(watched: readonly Watched[]): CpuWindow {
  const started = performance.now();
  const before = watched.map((w) => (w.pid === undefined ? undefined : processCpuSeconds(w.pid)));
  const machine = machineCpuSeconds();
  const machineCores = navigator.hardwareConcurrency;
  return {
    stop() {
      const seconds = (performance.now() - started) / 1000;
      const processes = watched.map((w, i) => {
        const now = w.pid === undefined ? undefined : processCpuSeconds(w.pid);
        const from = before[i];
        return { label: w.label, cores: now === undefined || from === undefined ? undefined : (now - from) / seconds };
      });
      const machineNow = machineCpuSeconds();
      const machineBusy = machine && machineNow ? ((machineNow.busy - machine.busy) / (machineNow.total - machine.total)) * machineCores : undefined;
      return { seconds, processes, machineBusy, machineCores };
    },
  };
}

/** Cores used by one watched process, by label. */
export const coresOf = (usage: CpuUsage, label: string): number | undefined => usage.processes.find((p) => p.label === label)?.cores;

/** The machine's busy cores not used by any watched process: other developers' work, the kernel, this orchestrator. */
export function otherCores(usage: CpuUsage): number | undefined {
  if (usage.machineBusy === undefined) return undefined;
  return Math.max(0, usage.machineBusy - usage.processes.reduce((sum, p) => sum + (p.cores ?? 0), 0));
}

export function describeCpu(usage: CpuUsage): string {
  const part = (label: string, v: number | undefined): string => `${label} ${v === undefined ? 'n/a' : fmtNum(v, 2)}`;
  return (
    [
      ...usage.processes.map((p) => part(p.label, p.cores)),
      part('everything else', otherCores(usage)),
      part(`machine total (of ${usage.machineCores})`, usage.machineBusy),
    ].join(', ') + ' cores'
  );
}
