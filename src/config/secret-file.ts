import { statSync, type Stats } from 'node:fs';
import type { Logger } from '../logging/logger.ts';
import { ConfigError } from './config-error.ts';
import type { SidecarOptions } from './options.ts';
import { readSecret } from './read-secret.ts';

/** How often the file is looked at again: at most once a second, whatever the request rate. */
const RECHECK_MS = 1000;

/** What Node lets an HTTP header value hold (tab, visible ASCII, space, Latin-1): a bearer token outside it could never be sent. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]+$/;

/**
 * Why `token` cannot be a bearer token, or undefined when it can. Besides what a header cannot carry, a space or
 * tab (any whitespace) is refused: `Authorization: Bearer <token>` is read as one word (src/http/bearer-token.ts),
 * so such a token could never authenticate. ADMIN_TOKEN / API_TOKEN and the token files use this one rule.
 */
export function bearerTokenProblem(token: string): string | undefined {
  if (!HEADER_VALUE.test(token)) return 'the token holds a line break or another character an HTTP header cannot carry';
  if (/\s/.test(token)) return 'the token holds a space or a tab (a bearer token is one word: Authorization: Bearer <token>)';
  return undefined;
}

/**
 * A secret file's value as secretFile reads it (trimmed); throws an Error saying why it cannot be used (unreadable,
 * empty, or a `bearerToken` that breaks bearerTokenProblem's rule). `config check` and the start read files with it.
 */
export function readSecretFile(file: string, { bearerToken = false }: { bearerToken?: boolean } = {}): string {
  const value = readSecret(file).trim();
  if (value === '') throw new Error('the file is empty');
  const problem = bearerToken ? bearerTokenProblem(value) : undefined;
  if (problem !== undefined) throw new Error(problem);
  return value;
}

/** The current value of a secret, read when asked (a request's bearer token check). */
export type SecretSource = () => string;

/**
 * A secret kept in a mounted file (API_TOKEN_FILE, ADMIN_TOKEN_FILE, a subscription's auth_token_file and
 * signing_secret_file; `env` names it in the log) and read again when the file changes, so a
 * rotated secret applies without a restart and the old one stops working. The file is stat'ed at most once a
 * second; a change of inode, size or modification time re-reads it (a Kubernetes Secret volume swaps a symlink,
 * which stat follows). A file that is missing, unreadable or empty while being rotated keeps the last value,
 * with one warning, as does a `bearerToken` whose new value an HTTP header cannot carry or that holds whitespace
 * (bearerTokenProblem). Throws a ConfigError at start when the file cannot be read, is empty, or holds such a token.
 */
export function secretFile(file: string, env: string, log: Logger, { bearerToken = false }: { bearerToken?: boolean } = {}): SecretSource {
  const read = (): { value: string; stats: Stats } => {
    const stats = statSync(file);
    return { value: readSecretFile(file, { bearerToken }), stats };
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

/** A bearer token of the sidecar's own APIs: the fixed value, or a source reading its file (re-read when it changes). */
export type TokenSetting = string | SecretSource | undefined;

/**
 * API_TOKEN / ADMIN_TOKEN, or their files through secretFile. The start and `config check` both call it, so a file
 * the start would refuse (unreadable, empty, a token no request could send) fails `config check` too.
 */
export function bearerTokens(
  options: Pick<SidecarOptions, 'apiToken' | 'apiTokenFile' | 'adminToken' | 'adminTokenFile'>,
  log: Logger,
): { apiToken: TokenSetting; adminToken: TokenSetting } {
  return {
    apiToken: options.apiTokenFile === undefined ? options.apiToken : secretFile(options.apiTokenFile, 'API_TOKEN_FILE', log, { bearerToken: true }),
    adminToken: options.adminTokenFile === undefined ? options.adminToken : secretFile(options.adminTokenFile, 'ADMIN_TOKEN_FILE', log, { bearerToken: true }),
  };
}
