import { AsyncLocalStorage } from 'node:async_hooks';

/** The request a piece of work serves, so every log line it writes names it (src/logging/logger.ts adds `requestId`). */
const storage = new AsyncLocalStorage<string>();

/**
 * Runs `fn` as part of the request `requestId`: its log lines, and those of whatever it starts, carry the id (a
 * body read from later socket events included: test/e2e/request-id.test.ts).
 */
export const inRequest = <T>(requestId: string, fn: () => T): T => storage.run(requestId, fn);

/** The id of the request the current code serves, if any. */
export const currentRequestId = (): string | undefined => storage.getStore();
