/**
 * kafkajs 2.2.4 (tulios/kafkajs#1751, unfixed upstream) passes `throttledUntil - Date.now()` to setTimeout in
 * its request queue; unthrottled, throttledUntil is -1, so the delay is minus the epoch and Node (23 and later)
 * prints a TimeoutNegativeWarning on the first Kafka request of every process. Node runs any delay below 1 as
 * 1, which is what kafkajs means, so the line tells an operator nothing. This drops that warning when, and only
 * when, it comes from kafkajs's request queue; every other warning, and any negative delay of other code,
 * still prints. It ships with the package: editing node_modules/kafkajs after install (what a postinstall used
 * to do) is not something an installed package may do.
 */
const KAFKAJS_REQUEST_QUEUE = /[\\/]kafkajs[\\/]src[\\/]network[\\/]requestQueue[\\/]/;

let installed = false;

export function dropKafkajsNegativeTimeoutWarning(): void {
  if (installed) return;
  installed = true;
  const emitWarning = process.emitWarning.bind(process);
  const filtered = (warning: string | Error, ...rest: unknown[]): void => {
    const type = warning instanceof Error ? warning.name : typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: unknown } | undefined)?.type;
    // The stack of this call: Node's timer code, then the setTimeout caller.
    if (type === 'TimeoutNegativeWarning' && KAFKAJS_REQUEST_QUEUE.test(new Error().stack ?? '')) return;
    Reflect.apply(emitWarning, process, [warning, ...rest]);
  };
  process.emitWarning = filtered;
}
