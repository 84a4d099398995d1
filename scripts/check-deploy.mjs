// Static checks of the deployment files, run by scripts/check-deploy.sh (which installs the `yaml` and
// `kubernetes-models` packages this needs into a tools directory and passes it as CHECK_DEPLOY_TOOLS).
//
//   node scripts/check-deploy.mjs <out-dir>
//
// Writes <out-dir>/dashboard-exprs.rules.yml (every dashboard query as a recording rule, Grafana
// macros substituted) for the shell script to hand to `promtool check rules`, which parses the PromQL.
// Prints one line per check, and exits 1 if any failed.
import { readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createRequire } from 'node:module';

const root = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const outDir = process.argv[2];
const tools = process.env.CHECK_DEPLOY_TOOLS;
if (!outDir || !tools) {
  console.error('usage: CHECK_DEPLOY_TOOLS=<dir with node_modules> node scripts/check-deploy.mjs <out-dir>');
  process.exit(2);
}
const requireTool = createRequire(join(tools, 'package.json'));
const YAML = requireTool('yaml');

let failed = 0;
let passed = 0;
const check = (name, problems) => {
  if (problems.length === 0) {
    passed++;
    console.log(`ok    ${name}`);
  } else {
    failed++;
    console.log(`FAIL  ${name}`);
    for (const p of problems) console.log(`        - ${p}`);
  }
};
const rel = (p) => relative(root, p);
const read = (p) => readFileSync(join(root, p), 'utf8');

// ---------------------------------------------------------------- the metric contract
// Names exposed by the sidecar (docs/operations.md lists them with their meaning), with their labels.
// Target labels added by Prometheus / service discovery may appear on any series.
const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod', 'container', 'service', 'node', 'app'];
const METRICS = {
  ordered_sidecar_total_mapped_groups: { type: 'gauge', labels: ['topic'] },
  ordered_sidecar_partition_loads: { type: 'gauge', labels: ['topic', 'partition'] },
  ordered_sidecar_partition_load_deviation_ratio: { type: 'gauge', labels: ['topic'] },
  ordered_sidecar_routing_cache_hit_rate: { type: 'gauge', labels: [] },
  ordered_sidecar_routing_cache_hits_total: { type: 'counter', labels: [] },
  ordered_sidecar_routing_cache_misses_total: { type: 'counter', labels: [] },
  ordered_sidecar_routing_duration_seconds: { type: 'histogram', labels: [] },
  ordered_sidecar_routing_failures_total: { type: 'counter', labels: ['reason'] },
  ordered_sidecar_cleanup_execution_time_seconds: { type: 'histogram', labels: [] },
  ordered_sidecar_cleanup_removed_groups_total: { type: 'counter', labels: ['topic'] },
  ordered_sidecar_cleanup_last_success_timestamp_seconds: { type: 'gauge', labels: [] },
  ordered_sidecar_http_request_duration_seconds: { type: 'histogram', labels: ['method', 'route', 'status'] },
  ordered_sidecar_inflight_requests: { type: 'gauge', labels: [] },
  ordered_sidecar_kafka_write_duration_seconds: { type: 'histogram', labels: ['topic'] },
  ordered_sidecar_messages_produced_total: { type: 'counter', labels: ['topic', 'mode'] },
  ordered_sidecar_messages_failed_total: { type: 'counter', labels: ['topic', 'reason'] },
  ordered_sidecar_redis_up: { type: 'gauge', labels: [] },
  ordered_sidecar_kafka_up: { type: 'gauge', labels: [] },
  ordered_sidecar_degraded_mode: { type: 'gauge', labels: [] },
  ordered_sidecar_degraded_routes_total: { type: 'counter', labels: [] },
  ordered_sidecar_degraded_conflicts_total: { type: 'counter', labels: [] },
  ordered_sidecar_hash_routed_messages_total: { type: 'counter', labels: [] },
  ordered_sidecar_route_replica_ack_timeouts_total: { type: 'counter', labels: [] },
  ordered_sidecar_routing_state_losses_total: { type: 'counter', labels: ['topic'] },
  ordered_sidecar_routes_restored_total: { type: 'counter', labels: ['topic'] },
  ordered_sidecar_deduplicated_messages_total: { type: 'counter', labels: ['topic'] },
  // Ordered consumption (docs/consumption.md).
  ordered_sidecar_consume_delivery_duration_seconds: { type: 'histogram', labels: ['subscription', 'outcome'] },
  ordered_sidecar_consume_delivery_attempts_total: { type: 'counter', labels: ['subscription', 'outcome'] },
  ordered_sidecar_consume_retries_total: { type: 'counter', labels: ['subscription'] },
  ordered_sidecar_consume_messages_total: { type: 'counter', labels: ['subscription', 'outcome'] },
  ordered_sidecar_consume_dead_letter_failures_total: { type: 'counter', labels: ['subscription'] },
  ordered_sidecar_consume_lag_messages: { type: 'gauge', labels: ['subscription', 'partition'] },
  ordered_sidecar_consume_buffered_messages: { type: 'gauge', labels: ['subscription', 'partition'] },
  ordered_sidecar_consume_tracked_records: { type: 'gauge', labels: ['subscription', 'partition'] },
  ordered_sidecar_consume_paused_partitions: { type: 'gauge', labels: ['subscription'] },
  ordered_sidecar_consume_in_flight_groups: { type: 'gauge', labels: ['subscription'] },
  ordered_sidecar_consume_blocked_groups: { type: 'gauge', labels: ['subscription'] },
  ordered_sidecar_consume_hot_group_backlog_messages: { type: 'gauge', labels: ['subscription', 'rank', 'partition', 'message_group'] },
};
// Exposed series names -> allowed labels (histograms expose _bucket{le}, _sum, _count).
const SERIES = new Map();
for (const [name, m] of Object.entries(METRICS)) {
  if (m.type === 'histogram') {
    SERIES.set(`${name}_bucket`, [...m.labels, 'le']);
    SERIES.set(`${name}_sum`, m.labels);
    SERIES.set(`${name}_count`, m.labels);
  } else {
    SERIES.set(name, m.labels);
  }
}
// prom-client's default metrics carry no prefix; their names vary a little by version and platform,
// so any process_* / nodejs_* name is accepted (labels unchecked). `up` is Prometheus' own.
const isDefaultMetric = (n) => /^(process|nodejs)_[a-z0-9_]+$/.test(n);
const PROMQL_WORDS = new Set([
  // aggregations and keywords
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'quantile',
  'count_values',
  'group',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
  // functions used or plausible here
  'rate',
  'irate',
  'increase',
  'delta',
  'idelta',
  'deriv',
  'histogram_quantile',
  'time',
  'timestamp',
  'absent',
  'absent_over_time',
  'avg_over_time',
  'max_over_time',
  'min_over_time',
  'sum_over_time',
  'count_over_time',
  'last_over_time',
  'present_over_time',
  'quantile_over_time',
  'changes',
  'resets',
  'clamp',
  'clamp_min',
  'clamp_max',
  'abs',
  'ceil',
  'floor',
  'round',
  'scalar',
  'vector',
  'label_replace',
  'label_join',
  'sort',
  'sort_desc',
  'predict_linear',
  'day_of_week',
]);

/**
 * Metric names and the label names used with each selector in a PromQL expression. A small scanner,
 * not a parser: strings, durations, numbers and grouping clauses are skipped; every remaining
 * identifier that is not a PromQL word is a metric name.
 */
function scanPromql(expr) {
  const uses = [];
  let s = expr;
  s = s.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""'); // string literals
  s = s.replace(/\[[^\]]*\]/g, ' '); // range / subquery durations
  s = s.replace(/\boffset\s+-?[0-9][0-9a-z]*/gi, 'offset '); // offset durations
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  const re = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?/g;
  let m;
  while ((m = re.exec(s))) {
    const [, ident, matchers] = m;
    const after = s.slice(re.lastIndex).trimStart();
    if (PROMQL_WORDS.has(ident.toLowerCase()) && (after.startsWith('(') || !matchers)) continue;
    if (/^\d/.test(ident)) continue;
    const labels = matchers ? [...matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map((x) => x[1]) : [];
    uses.push({ metric: ident, labels });
  }
  return uses;
}

function checkExprMetrics(where, expr, allowUp) {
  const problems = [];
  for (const { metric, labels } of scanPromql(expr)) {
    if (allowUp && metric === 'up') continue;
    if (isDefaultMetric(metric)) continue;
    const allowed = SERIES.get(metric);
    if (!allowed) {
      problems.push(`${where}: unknown metric "${metric}"`);
      continue;
    }
    for (const l of labels) {
      if (!allowed.includes(l) && !TARGET_LABELS.includes(l)) problems.push(`${where}: ${metric} has no label "${l}"`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------- 1. every YAML/JSON file parses
function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}
const files = [...walk(join(root, 'deploy')), join(root, 'docker-compose.yml')];
const parsed = new Map();
for (const f of files) {
  if (/\.ya?ml$/.test(f)) {
    const problems = [];
    try {
      const docs = YAML.parseAllDocuments(readFileSync(f, 'utf8'), { uniqueKeys: true });
      for (const d of docs) for (const e of d.errors) problems.push(e.message.split('\n')[0]);
      if (problems.length === 0)
        parsed.set(
          rel(f),
          docs.map((d) => d.toJS()),
        );
    } catch (e) {
      problems.push(e.message);
    }
    check(`YAML parses: ${rel(f)}`, problems);
  } else if (f.endsWith('.json')) {
    const problems = [];
    try {
      parsed.set(rel(f), [JSON.parse(readFileSync(f, 'utf8'))]);
    } catch (e) {
      problems.push(e.message);
    }
    check(`JSON parses: ${rel(f)}`, problems);
  }
}

// ---------------------------------------------------------------- 2. alert rules: contract + tests
const alertsDoc = parsed.get('deploy/prometheus/alerts.yml')?.[0];
const testsDoc = parsed.get('deploy/prometheus/alerts.test.yml')?.[0];
const alerts = [];
{
  const problems = [];
  for (const g of alertsDoc?.groups ?? []) {
    for (const r of g.rules ?? []) {
      if (!r.alert) continue;
      alerts.push(r.alert);
      problems.push(...checkExprMetrics(`alert ${r.alert}`, String(r.expr), true));
      if (!['critical', 'warning', 'info'].includes(r.labels?.severity)) problems.push(`${r.alert}: severity label missing or unknown`);
      for (const a of ['summary', 'description', 'runbook_url']) {
        if (!r.annotations?.[a]) problems.push(`${r.alert}: annotation ${a} missing`);
      }
      const anchor = /#([a-z0-9-]+)$/.exec(r.annotations?.runbook_url ?? '')?.[1];
      const doc = existsSync(join(root, 'docs/operations.md')) ? read('docs/operations.md') : '';
      if (anchor && !new RegExp(`^#+ .*\\b${r.alert}\\b`, 'm').test(doc)) {
        problems.push(`${r.alert}: docs/operations.md has no heading for the runbook anchor #${anchor}`);
      }
    }
  }
  if (alerts.length === 0) problems.push('no alert rules found');
  check(`alerts.yml: ${alerts.length} alerts use only sidecar metrics, have severity, summary, description, runbook`, problems);
}
{
  const problems = [];
  const fires = new Set();
  const silent = new Set();
  for (const t of testsDoc?.tests ?? []) {
    for (const a of t.alert_rule_test ?? []) {
      ((a.exp_alerts ?? []).length > 0 ? fires : silent).add(a.alertname);
    }
  }
  for (const a of alerts) {
    if (!fires.has(a)) problems.push(`${a}: no test case where it fires`);
    if (!silent.has(a)) problems.push(`${a}: no test case where it stays silent`);
  }
  for (const a of new Set([...fires, ...silent])) if (!alerts.includes(a)) problems.push(`tests name unknown alert ${a}`);
  check('alerts.test.yml: every alert has a firing and a silent case', problems);
}

// ---------------------------------------------------------------- 3. dashboard
const dash = parsed.get('deploy/grafana/dashboard.json')?.[0];
{
  const problems = [];
  const exprs = [];
  const panels = [];
  const collect = (list) => {
    for (const p of list ?? []) {
      panels.push(p);
      collect(p.panels);
    }
  };
  collect(dash?.panels);
  const ids = new Set();
  for (const p of panels) {
    if (ids.has(p.id)) problems.push(`duplicate panel id ${p.id}`);
    ids.add(p.id);
    const gp = p.gridPos;
    if (!gp || gp.x < 0 || gp.w < 1 || gp.x + gp.w > 24) problems.push(`panel "${p.title}": gridPos outside the 24-column grid`);
    if (p.type === 'row') continue;
    if (p.datasource?.uid !== '${DS_PROMETHEUS}') problems.push(`panel "${p.title}": datasource is not \${DS_PROMETHEUS}`);
    if (!p.targets?.length) problems.push(`panel "${p.title}": no queries`);
    for (const t of p.targets ?? []) {
      if (t.datasource?.uid !== '${DS_PROMETHEUS}') problems.push(`panel "${p.title}" ${t.refId}: datasource is not \${DS_PROMETHEUS}`);
      exprs.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
    }
  }
  const vars = dash?.templating?.list ?? [];
  if (!vars.some((v) => v.name === 'DS_PROMETHEUS' && v.type === 'datasource' && v.query === 'prometheus')) {
    problems.push('no datasource variable DS_PROMETHEUS of type prometheus');
  }
  for (const v of vars) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const inner = /^label_values\((.*),\s*[a-zA-Z_]+\)$/.exec(q ?? '')?.[1];
    if (!inner) problems.push(`variable ${v.name}: expected label_values(<selector>, <label>), got ${q}`);
    else exprs.push({ where: `variable ${v.name}`, expr: inner });
  }
  if (typeof dash?.schemaVersion !== 'number' || dash.schemaVersion < 36) problems.push('schemaVersion missing or older than 36');
  for (const { where, expr } of exprs) problems.push(...checkExprMetrics(where, expr, false));
  check(`dashboard.json: ${panels.length} panels, ${exprs.length} queries use only sidecar/process/nodejs metrics and known labels`, problems);

  // Grafana's $__interval is never below the datasource's timeInterval (the scrape interval), and at the
  // default ranges it is that: a range over it holds one sample, so rate()/increase() over it give nothing.
  // $__rate_interval is max($__interval + scrape interval, 4 x scrape interval).
  const ds = parsed.get('deploy/grafana/provisioning/datasources/prometheus.yml')?.[0]?.datasources?.find((d) => d.type === 'prometheus');
  const scrape = ds?.jsonData?.timeInterval;
  const scrapeSeconds = /^(\d+)s$/.exec(scrape ?? '')?.[1];
  const ranges = [];
  if (!scrapeSeconds) ranges.push(`datasource jsonData.timeInterval should be whole seconds like 15s, got ${scrape}`);
  for (const { where, expr } of exprs) {
    if (/\[\$__interval\b/.test(expr))
      ranges.push(`${where}: a range over $__interval holds one sample at the scrape interval (${scrape}); use $__rate_interval`);
  }
  check('dashboard.json: no range selector over $__interval', ranges);

  // Grafana macros -> the values Grafana gives them at short ranges, so promtool can parse each query.
  const concrete = (e) =>
    e
      .replaceAll('$__rate_interval', `${4 * Number(scrapeSeconds ?? 15)}s`)
      .replaceAll('$__interval', `${scrapeSeconds ?? 15}s`)
      .replaceAll('$__range', '1h')
      .replace(/\$\{?([a-zA-Z_]+)\}?/g, '.*');
  const rules = { groups: [{ name: 'dashboard-exprs', rules: exprs.map((x, i) => ({ record: `dashboard:expr_${i}`, expr: concrete(x.expr) })) }] };
  writeFileSync(join(outDir, 'dashboard-exprs.rules.yml'), YAML.stringify(rules));
  const names = Object.fromEntries(exprs.map((x, i) => [`dashboard:expr_${i}`, x.where]));
  writeFileSync(join(outDir, 'dashboard-exprs.index.json'), JSON.stringify(names, null, 2));
}

// ---------------------------------------------------------------- 4. Grafana provisioning
{
  const problems = [];
  const ds = parsed.get('deploy/grafana/provisioning/datasources/prometheus.yml')?.[0];
  const prov = parsed.get('deploy/grafana/provisioning/dashboards/ordered-sidecar.yml')?.[0];
  if (!ds?.datasources?.some((d) => d.type === 'prometheus' && d.url === 'http://prometheus:9090'))
    problems.push('no prometheus datasource at http://prometheus:9090');
  const path = prov?.providers?.[0]?.options?.path;
  const compose = parsed.get('docker-compose.yml')?.[0];
  const mounts = compose?.services?.grafana?.volumes ?? [];
  if (!mounts.some((m) => String(m).startsWith('./deploy/grafana/dashboard.json:') && String(m).includes(`${path}/`))) {
    problems.push(`docker-compose.yml does not mount deploy/grafana/dashboard.json under the provider path ${path}`);
  }
  if (!mounts.some((m) => String(m).startsWith('./deploy/grafana/provisioning:/etc/grafana/provisioning'))) problems.push('provisioning directory not mounted');
  check('Grafana provisioning matches docker-compose.yml mounts', problems);
}

// ---------------------------------------------------------------- 5. compose <-> prometheus wiring
{
  const problems = [];
  const compose = parsed.get('docker-compose.yml')?.[0];
  const prom = parsed.get('deploy/prometheus/prometheus.yml')?.[0];
  const s = compose?.services ?? {};
  for (const name of ['kafka', 'kafka-init', 'redis', 'sidecar', 'prometheus', 'grafana']) if (!s[name]) problems.push(`service ${name} missing`);
  const job = prom?.scrape_configs?.find((j) => j.job_name === 'ordered-sidecar');
  if (!job?.static_configs?.[0]?.targets?.includes('sidecar:8080')) problems.push('prometheus.yml does not scrape sidecar:8080 as job ordered-sidecar');
  if (!prom?.rule_files?.includes('/etc/prometheus/alerts.yml')) problems.push('prometheus.yml does not load /etc/prometheus/alerts.yml');
  const pm = s.prometheus?.volumes ?? [];
  if (!pm.some((m) => String(m).startsWith('./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml')))
    problems.push('alerts.yml not mounted into prometheus');
  const env = s.sidecar?.environment ?? {};
  if (env.HOST !== '0.0.0.0') problems.push('sidecar must bind 0.0.0.0 in compose (Prometheus scrapes it from another container)');
  if (!String(env.KAFKA_BROKERS).includes('kafka:9092') || !String(env.REDIS_URL).startsWith('redis://redis:'))
    problems.push('sidecar not pointed at kafka/redis services');
  for (const [name, svc] of Object.entries(s)) {
    for (const p of svc.ports ?? []) if (!String(p).startsWith('127.0.0.1:')) problems.push(`${name}: port ${p} is published on all host interfaces`);
  }
  if (String(s.kafka?.environment?.KAFKA_AUTO_CREATE_TOPICS_ENABLE) !== 'false') problems.push('Kafka auto topic creation is not off');
  if (!/--topic orders --partitions 6/.test(JSON.stringify(s['kafka-init']?.command ?? '')))
    problems.push('kafka-init does not create orders with 6 partitions');
  check('docker-compose.yml wiring (services, scrape target, rules, loopback-only ports, demo topic)', problems);
}

// ---------------------------------------------------------------- 6. Kubernetes manifests (schema)
{
  const problems = [];
  const kinds = {
    Deployment: 'kubernetes-models/apps/v1/Deployment',
    ConfigMap: 'kubernetes-models/v1/ConfigMap',
    NetworkPolicy: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
    Secret: 'kubernetes-models/v1/Secret',
    Service: 'kubernetes-models/v1/Service',
  };
  let n = 0;
  for (const [file, docs] of parsed) {
    if (!file.startsWith('deploy/k8s/')) continue;
    for (const obj of docs) {
      if (!obj || obj.kind === 'Kustomization') continue;
      const mod = kinds[obj.kind];
      if (!mod) {
        problems.push(`${file}: no schema wired up for kind ${obj.kind}`);
        continue;
      }
      const Model = Object.values(requireTool(mod)).find((v) => typeof v === 'function');
      try {
        new Model(obj).validate();
        n++;
      } catch (e) {
        problems.push(`${file}: ${obj.kind}/${obj.metadata?.name}: ${e.message}`);
      }
    }
  }
  const dep = parsed.get('deploy/k8s/deployment.yaml')?.[0];
  // A native sidecar: an init container with restartPolicy Always, started before the application and stopped after it.
  const c = dep?.spec?.template?.spec?.initContainers?.find((x) => x.name === 'ordered-sidecar');
  const sc = c?.securityContext ?? {};
  if (!c) problems.push('deployment.yaml: no ordered-sidecar init container (the native sidecar)');
  else {
    if (c.readinessProbe?.httpGet?.path !== '/readyz') problems.push('sidecar readinessProbe is not /readyz');
    if (c.livenessProbe?.httpGet?.path !== '/healthz') problems.push('sidecar livenessProbe is not /healthz');
    if (!(sc.runAsNonRoot && sc.readOnlyRootFilesystem && sc.allowPrivilegeEscalation === false && sc.capabilities?.drop?.includes('ALL'))) {
      problems.push('sidecar securityContext must be non-root, read-only root fs, no privilege escalation, drop ALL');
    }
    if (!c.resources?.requests || !c.resources?.limits) problems.push('sidecar has no resource requests/limits');
    const adminTokenFile = c.env?.find((e) => e.name === 'ADMIN_TOKEN_FILE')?.value;
    const secretVolumes = new Set((dep.spec.template.spec.volumes ?? []).filter((v) => v.secret).map((v) => v.name));
    const fromSecretFile =
      adminTokenFile !== undefined &&
      (c.volumeMounts ?? []).some((m) => secretVolumes.has(m.name) && adminTokenFile.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
    if (!c.env?.some((e) => e.name === 'ADMIN_TOKEN' && e.valueFrom?.secretKeyRef) && !fromSecretFile)
      problems.push('ADMIN_TOKEN (or ADMIN_TOKEN_FILE) does not come from a Secret');
    if (c.restartPolicy !== 'Always') problems.push('the ordered-sidecar init container needs restartPolicy: Always (a native sidecar)');
    if (!c.startupProbe) problems.push('the native sidecar needs a startupProbe: the application starts once it passes');
    if (c.lifecycle?.preStop) problems.push('a native sidecar stops after the application: no preStop hook (sleep) needed');
    if (dep.spec.template.spec.containers?.some((x) => x.name === 'ordered-sidecar')) problems.push('ordered-sidecar is also a regular container');
    if (c.env?.find((e) => e.name === 'HOST')?.value === '0.0.0.0' && !parsed.has('deploy/k8s/networkpolicy.yaml')) {
      problems.push('sidecar binds 0.0.0.0 without a NetworkPolicy');
    }
    // The probes and the scrape reach the pod IP: with the API on loopback they must use the ops port.
    const opsPort = c.env?.find((e) => e.name === 'OPS_PORT')?.value;
    if (opsPort !== undefined) {
      const named = (c.ports ?? []).find((p) => String(p.containerPort) === opsPort)?.name;
      for (const [probe, spec] of Object.entries({ readinessProbe: c.readinessProbe, livenessProbe: c.livenessProbe, startupProbe: c.startupProbe })) {
        const port = spec?.httpGet?.port;
        if (spec && port !== named && String(port) !== opsPort) problems.push(`sidecar ${probe} does not use OPS_PORT ${opsPort}`);
      }
      if (dep.spec.template.metadata?.annotations?.['prometheus.io/port'] !== opsPort) problems.push(`prometheus.io/port is not OPS_PORT ${opsPort}`);
    }
  }
  check(`Kubernetes manifests: ${n} objects valid against the API schema, sidecar hardened`, problems);
}

// ---------------------------------------------------------------- 7. Dockerfile vs .dockerignore
{
  const problems = [];
  const dockerfile = read('Dockerfile');
  const allow = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('!'))
    .map((l) => l.slice(1).replace(/\/$/, ''));
  for (const line of dockerfile.split('\n')) {
    const m = /^COPY\s+(?!--from)(.*)$/.exec(line.trim());
    if (!m) continue;
    const parts = m[1].split(/\s+/).filter((x) => !x.startsWith('--'));
    for (const src of parts.slice(0, -1)) {
      if (!existsSync(join(root, src))) problems.push(`COPY source ${src} does not exist`);
      if (!allow.some((a) => src === a || src.startsWith(`${a}/`))) problems.push(`COPY source ${src} is excluded by .dockerignore`);
    }
  }
  if (!/^USER\s+(?!root|0\b)\S+/m.test(dockerfile)) problems.push('no non-root USER');
  if (!/^HEALTHCHECK .*CMD \["node"/m.test(dockerfile.replace(/\\\n\s*/g, ' '))) problems.push('no node-based HEALTHCHECK');
  check('Dockerfile: COPY sources exist and pass .dockerignore; non-root USER; node HEALTHCHECK', problems);
}

console.log(`check-deploy.mjs: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
