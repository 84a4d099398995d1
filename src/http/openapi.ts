import { readFileSync } from 'node:fs';

/**
 * The OpenAPI 3.1 document of /v1 and /admin/v1 (openapi.json beside this file, copied to dist by the
 * build), as served at GET /v1/openapi.json: clients in any language are generated from it. A test checks
 * every response of the end-to-end suite against it, so it cannot drift from the code unnoticed.
 */
export function openApiDocument(version: string): Record<string, unknown> {
  const document: unknown = JSON.parse(readFileSync(new URL('./openapi.json', import.meta.url), 'utf8'));
  if (typeof document !== 'object' || document === null || !('info' in document) || typeof document.info !== 'object' || document.info === null) {
    throw new Error('openapi.json has no info object: the installation is damaged');
  }
  return { ...document, info: { ...document.info, version } };
}
