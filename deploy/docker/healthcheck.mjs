// Container HEALTHCHECK for ordered-sidecar: GET /healthz on the sidecar's own port, with Node only
// (the runtime image has no curl/wget by design). Exit 0 = healthy, 1 = unhealthy.
//
// HOST is the address the sidecar binds. A wildcard bind (0.0.0.0, ::) or none at all (the default,
// 127.0.0.1) is reached on loopback; a specific address is used as is.
const bind = (process.env.HOST ?? '').trim();
const host = bind === '' || bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind;
const port = process.env.PORT?.trim() || '8080';
const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`;

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(2500) });
  if (!res.ok) console.error(`healthcheck: ${url} answered ${res.status}`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  console.error(`healthcheck: ${url} failed: ${err?.cause?.code ?? err?.message ?? err}`);
  process.exit(1);
}
