/** Monotonic milliseconds (performance.now in production); injected so tests can move time by hand. */
export type Clock = () => number;

export const monotonicClock: Clock = () => performance.now();
