import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One span as the receiver decoded it from an OTLP/HTTP JSON export. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer' | 'unspecified';
  attributes: Record<string, string | number | boolean>;
  status: { code: 'unset' | 'ok' | 'error'; message?: string };
  links: { traceId: string; spanId: string }[];
  startNs: bigint;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string | number;
  attributes?: OtlpAttribute[];
  status?: { code?: number; message?: string };
  links?: { traceId: string; spanId: string }[];
}
interface OtlpExport {
  resourceSpans?: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] as const;
const STATUS = ['unset', 'ok', 'error'] as const;

const valueOf = (v: OtlpValue): string | number | boolean =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue ?? '';

const attributesOf = (list: OtlpAttribute[] = []): Record<string, string | number | boolean> => Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));

/** Decodes one export request (OTLP/HTTP JSON: ids are hex strings, times decimal strings). */
export function decodeExport(body: OtlpExport): ReceivedSpan[] {
  return (body.resourceSpans ?? []).flatMap((rs) => {
    const service = String(attributesOf(rs.resource?.attributes)['service.name'] ?? '');
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s): ReceivedSpan => ({
        service,
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId || undefined,
        name: s.name,
        kind: KINDS[s.kind ?? 0] ?? 'unspecified',
        attributes: attributesOf(s.attributes),
        status: { code: STATUS[s.status?.code ?? 0] ?? 'unset', ...(s.status?.message ? { message: s.status.message } : {}) },
        links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
        startNs: BigInt(s.startTimeUnixNano),
      })),
    );
  });
}

/**
 * A real OTLP/HTTP receiver (what a collector listens on at :4318), answering the exporter as a collector
 * does; it keeps every span it decoded. Only JSON exports are read: a protobuf one fails the test loudly.
 */
export async function otlpReceiver() {
  const spans: ReceivedSpan[] = [];
  const problems: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = req.headers['content-type'] ?? '';
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !type.startsWith('application/json')) {
        problems.push(`${req.method} ${req.url} (${type})`);
        res.writeHead(404).end();
        return;
      }
      spans.push(...decodeExport(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    problems,
    /** The spans of one trace, oldest first. */
    trace: (traceId: string): ReceivedSpan[] => spans.filter((s) => s.traceId === traceId).sort((a, b) => (a.startNs < b.startNs ? -1 : 1)),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A trace as an indented tree, one span a line (its kind and attributes), for docs/operations.md. */
export function traceTree(spans: readonly ReceivedSpan[]): string {
  const lines: string[] = [];
  const ids = new Set(spans.map((s) => s.spanId));
  const walk = (parent: string | undefined, depth: number) => {
    for (const s of spans.filter((x) => (parent === undefined ? x.parentSpanId === undefined || !ids.has(x.parentSpanId) : x.parentSpanId === parent))) {
      const attributes = Object.entries(s.attributes)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(' ');
      const parentNote = parent === undefined && s.parentSpanId ? ` parent=${s.parentSpanId} (remote)` : '';
      lines.push(`${'  '.repeat(depth)}${s.name} [${s.kind}, ${s.service}] span=${s.spanId}${parentNote} ${attributes}`);
      walk(s.spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  return lines.join('\n');
}
