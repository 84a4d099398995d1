/**
 * The promise, or a rejection as soon as the signal fires (the work itself goes on): with the signal's reason,
 * or what `abortError` makes at that moment.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, abortError: () => unknown = () => signal?.reason): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError());
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
