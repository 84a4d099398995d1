import { statSync, type Stats } from 'node:fs';
import type { Logger } from '../logging/logger.ts';
import { ConfigError } from './config-error.ts';
import { readSecret } from './read-secret.ts';

/** How often the file is looked at again: at most once a second, whatever the request rate. */
const RECHECK_MS = 1000;

/** What Node lets an HTTP header value hold (tab, visible ASCII, space, Latin-1): a bearer token outside it could never be sent. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]+$/;

/** The current value of a secret, read when asked (a request's bearer token check). */
export type SecretSource = () => string;

/**
 * A secret kept in a mounted file (API_TOKEN_FILE, ADMIN_TOKEN_FILE, a subscription's auth_token_file and
 * signing_secret_file; `env` names it in the log) and read again when the file changes, so a
 * rotated secret applies without a restart and the old one stops working. The file is stat'ed at most once a
 * second; a change of inode, size or modification time re-reads it (a Kubernetes Secret volume swaps a symlink,
 * which stat follows). A file that is missing, unreadable or empty while being rotated keeps the last value,
 * with one warning, as does a `bearerToken` whose new value an HTTP header cannot carry. Throws a ConfigError at
 * start when the file cannot be read, is empty, or holds such a token.
 */
export function secretFile(file: string, env: string, log: Logger, { bearerToken = false }: { bearerToken?: boolean } = {}): SecretSource {
  const read = (): { value: string; stats: Stats } => {
    const stats = statSync(file);
    const value = readSecret(file).trim();
    if (value === '') throw new Error('the file is empty');
    if (bearerToken && !HEADER_VALUE.test(value)) throw new Error('the token holds a line break or another character an HTTP header cannot carry');
    return { value, stats };
  };
  let current: { value: string; stats: Stats };
  try {
    current = read();
  } catch (err) {
    throw new ConfigError(`${env}=${file} cannot be used: ${err instanceof Error ? err.message : String(err)}`);
  }
  let checkedAt = Date.now();
  let failing = false;
  return () => {
    const now = Date.now();
    if (now - checkedAt < RECHECK_MS) return current.value;
    checkedAt = now;
    try {
      const stats = statSync(file);
      if (stats.ino === current.stats.ino && stats.size === current.stats.size && stats.mtimeMs === current.stats.mtimeMs) return current.value;
      const next = read();
      if (next.value !== current.value) log.info(`${env}: the secret changed; the new one applies from now on`, { file });
      current = next;
      if (failing) log.info(`${env}: the file can be read again`, { file });
      failing = false;
    } catch (err) {
      if (!failing) log.warn(`${env}: the file cannot be read; the last secret read stays in use until it can`, { file, err });
      failing = true;
    }
    return current.value;
  };
}
