import { readFileSync } from 'node:fs';

const manifest: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
if (typeof manifest !== 'object' || manifest === null || !('version' in manifest) || typeof manifest.version !== 'string') {
  throw new Error('package.json has no version: the installation is damaged');
}

/** The package version; `src/` (run directly by Node 24) and `dist/` both sit one level below package.json. */
export const VERSION: string = manifest.version;
