// Run by scripts/package-smoke.sh in the fresh project: the application endpoint the installed sidecar delivers its
// subscription to, made with the installed SDK's deliveryEndpoint (signature verified with the secret file given as
// argument), and an OTLP/HTTP (JSON) receiver for the sidecar's spans. Prints its port as its first line.
//   POST /deliver     deliveries; the message whose value is SMOKE_POISON is refused (so dead-lettered) unless it
//                     is a dead-letter replay (header dead-letter-replay-of)
//   POST /v1/traces   spans, counted
//   GET /received     what was accepted so far, in arrival order, for await-deliveries.mjs
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { deliveryEndpoint, messageBytes } from 'ordered-sidecar-client';

const secret = readFileSync(process.argv[2], 'utf8').trim();
const poison = process.env.SMOKE_POISON;
const accepted = [];
let refused = 0;
let spans = 0;

const deliver = (traceparent) =>
  deliveryEndpoint(
    async (d) => {
      for (const m of d.messages) {
        const value = messageBytes(m).value?.toString('utf8');
        if (value === poison && m.headers['dead-letter-replay-of'] === undefined) {
          refused += 1;
          throw new Error(`${value} is refused until it is replayed`);
        }
      }
      for (const m of d.messages)
        accepted.push({
          group: d.message_group,
          partition: d.partition,
          value: messageBytes(m).value?.toString('utf8'),
          replayed: m.headers['dead-letter-replay-of'] !== undefined,
          traceparent: traceparent ?? null,
        });
    },
    { signingSecret: secret },
  );

const readJson = async (req) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
};

const server = createServer(async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/deliver') return await deliver(req.headers.traceparent)(req, res);
    if (req.method === 'POST' && req.url === '/v1/traces') {
      const body = await readJson(req);
      for (const r of body.resourceSpans ?? []) for (const s of r.scopeSpans ?? []) spans += s.spans?.length ?? 0;
      return res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    }
    if (req.method === 'GET' && req.url === '/received')
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted, refused, spans }));
    res.writeHead(404).end();
  } catch (err) {
    res.writeHead(500).end(String(err));
  }
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
