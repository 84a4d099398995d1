import { readFileSync } from 'node:fs';

/**
 * A secret from a mounted file (how Kubernetes and compose hand secrets over). The file usually ends with a
 * newline that is not part of the secret. Callers read it again at every use, so a rotated secret applies
 * without a restart.
 */
export const readSecret = (file: string): string => readFileSync(file, 'utf8').replace(/\r?\n$/, '');
