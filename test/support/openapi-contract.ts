import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

/**
 * Checks real sidecar responses against docs' OpenAPI document (src/http/openapi.json): every in-process
 * test sidecar records its responses here, and each test file fails at its end if one disagreed with the
 * document (see contract-setup.ts). So the document cannot drift from the code unnoticed.
 */
interface Operation {
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
}

export const OPENAPI_FILE = new URL('../../src/http/openapi.json', import.meta.url);
const document = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Document;

// ajv-formats is CommonJS: imported from ESM, its default is module.exports, which carries the plugin as `.default`.
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormatsModule.default(ajv);
ajv.addSchema(document, 'openapi');

const routes = Object.keys(document.paths).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
}));
const validators = new Map<string, ValidateFunction>();
const pointer = (...parts: string[]): string => parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

/** What is wrong with this response according to the document, or undefined when it conforms (or the path is not in it). */
export function contractViolation(method: string, path: string, status: number, contentType: string, body: string): string | undefined {
  const route = routes.find((r) => r.pattern.test(path));
  if (!route) return undefined; // unmatched routes answer 404 NOT_FOUND; the document lists only real ones
  const operation = document.paths[route.template]![method.toLowerCase()];
  const where = `${method} ${path} -> ${status}`;
  if (!operation) return `${where}: method not in the document`;
  const response = operation.responses[String(status)];
  if (!response) return `${where}: status ${status} not in the document (documented: ${Object.keys(operation.responses).join(', ')})`;
  const mediaType = contentType.split(';')[0]!.trim();
  if (!response.content) return undefined;
  if (!response.content[mediaType]) return `${where}: content type ${mediaType} not in the document`;
  if (mediaType !== 'application/json') return undefined;
  const ref = `openapi#/${pointer('paths', route.template, method.toLowerCase(), 'responses', String(status), 'content', mediaType, 'schema')}`;
  let validate = validators.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: ref });
    validators.set(ref, validate);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return `${where}: body is not JSON`;
  }
  return validate(parsed) ? undefined : `${where}: ${ajv.errorsText(validate.errors)} in ${body.slice(0, 300)}`;
}

const violations: string[] = [];
const undocumented: string[] = [];
let checked = 0;

/**
 * Violations recorded so far in this test file, how many responses were checked, and the requests whose path
 * is in no route of the document (so nothing was held against it: right for a 404, a defect of the check otherwise).
 */
export const contractReport = (): { checked: number; violations: string[]; undocumented: string[] } => ({
  checked,
  violations: [...violations],
  undocumented: [...undocumented],
});

/** Checks every response `server` sends from now on (it must be called before any request arrives). */
export function recordContract(server: Server): void {
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    // Read now: Express strips a mounted router's prefix from req.url (/admin/v1/...) and leaves it stripped
    // when the route answers, so at 'finish' the path would match no documented route and go unchecked.
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const chunks: Buffer[] = [];
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    const keep = (chunk: unknown): void => {
      if (typeof chunk === 'string') chunks.push(Buffer.from(chunk));
      else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
    };
    res.write = ((...args: unknown[]) => {
      keep(args[0]);
      return write(...args);
    }) as ServerResponse['write'];
    res.end = ((...args: unknown[]) => {
      if (typeof args[0] !== 'function') keep(args[0]);
      return end(...args);
    }) as ServerResponse['end'];
    res.on('finish', () => {
      checked++;
      if (!routes.some((r) => r.pattern.test(path))) undocumented.push(`${req.method} ${path}`);
      const violation = contractViolation(
        req.method ?? 'GET',
        path,
        res.statusCode,
        String(res.getHeader('content-type') ?? ''),
        Buffer.concat(chunks).toString('utf8'),
      );
      if (violation) violations.push(violation);
    });
  });
}
