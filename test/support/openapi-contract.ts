import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';

/**
 * Checks real sidecar responses against docs' OpenAPI document (src/http/openapi.json): every in-process
 * test sidecar records its responses here, and each test file fails at its end if one disagreed with the
 * document (see contract-setup.ts). So the document cannot drift from the code unnoticed.
 */
interface Response {
  $ref?: string;
  content?: Record<string, { schema: unknown }>;
}
interface Operation {
  responses: Record<string, Response>;
}
interface Parameter {
  name: string;
  in: string;
}
interface Webhook {
  parameters: (Parameter | { $ref: string })[];
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  webhooks: Record<string, { post: Webhook }>;
  components: { responses?: Record<string, Response>; parameters?: Record<string, Parameter> };
}

export const OPENAPI_FILE = new URL('../../src/http/openapi.json', import.meta.url);
const document = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Document;

// ajv-formats is CommonJS: Node's default import is its module.exports, which TypeScript's NodeNext view types as
// the module namespace; the plugin is that object's `default` too (the package sets exports.default to it).
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajvFormats.default(ajv);
ajv.addSchema(document, 'openapi');

const routes = Object.keys(document.paths).map((template) => ({
  template,
  // Express routes without strict routing or case sensitivity: /Console/ is the route /console.
  pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}/?$`, 'i'),
}));
const validators = new Map<string, ValidateFunction>();
const pointer = (...parts: string[]): string => parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

/**
 * The answers a path the document does not list may get: the catch-all 404, or what comes before routing
 * (the /v1 token check, a malformed path, the drain gate). Anything else there is an undocumented route.
 */
const UNLISTED_PATH_ANSWERS: Record<string, number> = { NOT_FOUND: 404, UNAUTHORIZED: 401, INVALID_REQUEST: 400, SHUTTING_DOWN: 503 };

/** The code of an error answer, when the body is one as the document describes it. */
const errorCodeOf = (parsed: unknown): string | undefined =>
  validator(`openapi#/${pointer('components', 'schemas', 'Error')}`)(parsed) ? (parsed as { error: { code: string } }).error.code : undefined;

/** What is wrong with this response according to the document, or undefined when it conforms. */
export function contractViolation(method: string, path: string, status: number, contentType: string, body: string): string | undefined {
  const where = `${method} ${path} -> ${status}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const route = routes.find((r) => r.pattern.test(path));
  if (!route) {
    const code = errorCodeOf(parsed);
    return code !== undefined && UNLISTED_PATH_ANSWERS[code] === status ? undefined : `${where}: path not in the document (and not a catch-all error answer)`;
  }
  const operation = document.paths[route.template]![method.toLowerCase()];
  if (!operation) {
    // A documented path under another method: the 405 the produce routes answer (the Allow header names theirs).
    return errorCodeOf(parsed) === 'METHOD_NOT_ALLOWED' && status === 405 ? undefined : `${where}: method not in the document`;
  }
  let at = ['paths', route.template, method.toLowerCase(), 'responses', String(status)];
  let response = operation.responses[String(status)];
  if (!response) return `${where}: status ${status} not in the document (documented: ${Object.keys(operation.responses).join(', ')})`;
  if (response.$ref !== undefined) {
    at = response.$ref.slice('#/'.length).split('/');
    response = document.components.responses?.[at.at(-1)!];
    if (!response) return `${where}: ${String(operation.responses[String(status)]!.$ref)} does not resolve`;
  }
  const mediaType = contentType.split(';')[0]!.trim();
  if (!response.content) return undefined;
  if (!response.content[mediaType]) return `${where}: content type ${mediaType} not in the document`;
  if (mediaType !== 'application/json') return undefined;
  if (parsed === undefined) return `${where}: body is not JSON`;
  const validate = validator(`openapi#/${pointer(...at, 'content', mediaType, 'schema')}`);
  return validate(parsed) ? undefined : `${where}: ${ajv.errorsText(validate.errors)} in ${body.slice(0, 300)}`;
}

/**
 * What is wrong with a request the sidecar sent to an application (a webhook of the document, such as `delivery`)
 * according to the document: its JSON body, and each documented header it carries. Undefined when it conforms.
 */
export function webhookViolation(name: string, headers: Record<string, string | string[] | undefined>, body: string): string | undefined {
  const at = ['webhooks', name, 'post'];
  const webhook = document.webhooks[name];
  if (!webhook) return `webhook ${name}: not in the document`;
  const validate = validator(`openapi#/${pointer(...at, 'requestBody', 'content', 'application/json', 'schema')}`);
  if (!validate(JSON.parse(body))) return `webhook ${name}: ${ajv.errorsText(validate.errors)} in ${body.slice(0, 300)}`;
  for (const [i, entry] of webhook.post.parameters.entries()) {
    // A shared parameter (traceparent, tracestate) is a $ref into components.parameters.
    const shared = '$ref' in entry ? entry.$ref.replace('#/components/parameters/', '') : undefined;
    const parameter = '$ref' in entry ? document.components.parameters![shared!]! : entry;
    const value = headers[parameter.name.toLowerCase()];
    if (parameter.in !== 'header' || value === undefined) continue;
    const schemaAt = shared === undefined ? pointer(...at, 'parameters', String(i), 'schema') : pointer('components', 'parameters', shared, 'schema');
    const check = validator(`openapi#/${schemaAt}`);
    if (!check(value)) return `webhook ${name}: header ${parameter.name}: ${ajv.errorsText(check.errors)}`;
  }
  return undefined;
}

function validator(ref: string): ValidateFunction {
  let validate = validators.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: ref });
    validators.set(ref, validate);
  }
  return validate;
}

/** The parts of Express's router (the `router` package) that list its routes; its types leave them out. */
interface RouterLayer {
  rawPath?: unknown;
  route?: { path: string; methods: Record<string, boolean> };
  handle: unknown;
}
const hasStack = (handle: unknown): handle is { stack: RouterLayer[] } =>
  typeof handle === 'function' && 'stack' in handle && Array.isArray((handle as { stack: unknown }).stack);

/** `METHOD /path/{param}` of every route an Express app serves, mounted routers included. */
function expressRoutes(app: { router: unknown }): string[] {
  const walk = (router: unknown, prefix: string): string[] =>
    hasStack(router)
      ? router.stack.flatMap((layer) => {
          if (layer.route) {
            const path = `${prefix}${layer.route.path}`.replace(/:(\w+)/g, '{$1}');
            return Object.keys(layer.route.methods).map((m) => `${m.toUpperCase()} ${path}`);
          }
          return typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? walk(layer.handle, `${prefix}${layer.rawPath}`) : [];
        })
      : [];
  return walk(app.router, '');
}

/** `METHOD /path/{param}` of every route the sidecar's listener serves: the produce routes it serves itself, then express's. */
export const servedRoutes = (listener: { routes: readonly string[]; fallback: { router: unknown } }): string[] => [
  ...listener.routes,
  ...expressRoutes(listener.fallback),
];

/** `METHOD /path/{param}` of every operation the document lists. */
export const documentedRoutes = (): string[] =>
  Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((m) => `${m.toUpperCase()} ${path}`));

const violations: string[] = [];
let checked = 0;

/** Violations recorded so far in this test file, and how many responses were checked. */
export const contractReport = (): { checked: number; violations: string[] } => ({ checked, violations: [...violations] });

/** Checks every response `server` sends from now on (it must be called before any request arrives). */
export function recordContract(server: Server): void {
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
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
    // Read now: Express rewrites req.url inside mounted routers (/admin/v1/topics becomes /topics).
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    res.on('finish', () => {
      checked++;
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
