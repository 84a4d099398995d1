import { setFlagsFromString } from 'node:v8';

const PRETENURING = /^--(no-)?allocation[-_]site[-_]pretenuring$/;

/**
 * The V8 setting `serve` applies before the sidecar's modules load, unless node was started with its own choice.
 *
 * V8's allocation-site pretenuring allocates objects straight into the old generation once objects made at the
 * same place in the code have been seen surviving. Kafka clients' per-send objects get that treatment under load,
 * but they die within milliseconds; until the next full collection each dead one still holds the young objects
 * it points to (the records, the request that sent them), so every scavenge copies and promotes them. Measured
 * at 1,000 requests/s of 10 messages (docs/benchmarks.md, "Pretenuring"): a sidecar on kafkajs promoted 2.1-2.3
 * MB a scavenge of 7-8 ms with it and 0.17 MB of 2 ms without; @platformatic/kafka alone 2 MB of 4-7 ms and
 * nothing of 0.5 ms. (A sidecar on @platformatic/kafka promotes nothing either way since its resend record
 * stopped deleting Map keys.)
 */
export function pretenuringFlag(execArgv: readonly string[]): string | undefined {
  return execArgv.some((arg) => PRETENURING.test(arg)) ? undefined : '--no-allocation-site-pretenuring';
}

/** Applies {@link pretenuringFlag}. Set while the process runs, before any load, it took effect in those measurements. */
export function keepShortLivedObjectsYoung(execArgv: readonly string[] = process.execArgv): void {
  const flag = pretenuringFlag(execArgv);
  if (flag) setFlagsFromString(flag);
}
