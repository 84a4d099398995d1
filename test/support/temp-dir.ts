import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The directories this test file made; temp-dir-cleanup.ts removes them after its last test. */
const made: string[] = [];

/**
 * A fresh directory under the OS temp directory, removed once the test file is done. Usable anywhere in a file
 * (module scope, describe, beforeAll, a test), where `onTestFinished` would not reach or would remove it too soon.
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
