import { createRequire } from 'node:module';

/** The part of kafkajs 2.2.4's RequestQueue (src/network/requestQueue/index.js) the fix below reads and replaces. */
interface RequestQueueState {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
}

/** What kafkajs waits between checks of requests it holds back (its CHECK_PENDING_REQUESTS_INTERVAL). */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

/**
 * kafkajs 2.2.4 checks its request queue again after every answer (tulios/kafkajs#1704 and #1751, unfixed
 * upstream): with nothing pending and no throttle it still sets a timer of `throttledUntil - Date.now()`, minus
 * the epoch, which Node runs after 1 ms, and that check sets the next. So every broker connection that ever
 * had an answer wakes the process a thousand times a second, for good: an idle sidecar on the kafkajs engine
 * used 5.3 % of a core, on @platformatic/kafka 0.8 % (10 s each, this machine); and Node 23 and later print a
 * TimeoutNegativeWarning for the first such timer. This is kafkajs's own method with the fix proposed there:
 * a check is scheduled only for a pending request, or for the end of a broker's throttle. A request that cannot
 * go at once is still checked every 10 ms and after every answer, as before. It ships with the package:
 * editing node_modules/kafkajs after install is not something an installed package may do.
 */
function scheduleCheckPendingRequests(this: RequestQueueState): void {
  if (this.throttleCheckTimeoutId) return;
  const untilUnthrottled = this.throttledUntil - Date.now();
  let delay: number;
  if (this.pending.length > 0) delay = untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_REQUESTS_INTERVAL_MS;
  else if (untilUnthrottled > 0) delay = untilUnthrottled;
  else return;
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, delay);
}

let installed = false;

/** Replaces kafkajs's RequestQueue.scheduleCheckPendingRequests (above); a kafkajs without that method is left as it is. */
export function stopKafkajsIdleChecks(): void {
  if (installed) return;
  installed = true;
  const loaded: unknown = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js');
  const prototype: unknown = typeof loaded === 'function' ? loaded.prototype : undefined;
  if (typeof prototype === 'object' && prototype !== null && 'scheduleCheckPendingRequests' in prototype) {
    Object.defineProperty(prototype, 'scheduleCheckPendingRequests', { value: scheduleCheckPendingRequests, writable: true, configurable: true });
  }
}
