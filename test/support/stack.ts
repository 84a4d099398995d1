import { execFileSync } from 'node:child_process';

/** Runs `scripts/stack.sh` against the stack the environment names (STACK_DIR, KAFKA_PORT_OFFSET); returns its stdout. */
export const stack = (...args: string[]): string =>
  execFileSync('bash', ['scripts/stack.sh', ...args], { env: process.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
