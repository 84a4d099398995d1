// Run by scripts/package-smoke.sh: waits until push-endpoint.mjs (at argv[2]) has accepted exactly what the installed
// sidecar should have delivered of the messages ordered-roundtrip.mjs wrote (SMOKE_GROUPS groups g0.. of
// SMOKE_PER_GROUP messages "g<g>:<n>"), each group in order from one partition, then checks the trace context.
// The stage (argv[3]) says how far the subscription went:
//   delivered  one pass: every message once, SMOKE_POISON dead-lettered (refused, so missing)
//   replayed   then `dlq replay`: the poison message follows its group's last one, as a replay
//   reset      then `subscriptions reset --to earliest`: that whole pass a second time (the poison refused again)
// With argv[4], a file holding `ordered-sidecar groups list <topic> --all --json`: each group's mapping must be the
// partition it was delivered from.
import { readFileSync } from 'node:fs';

const [url, stage, groupsFile] = process.argv.slice(2);
const groups = Number(process.env.SMOKE_GROUPS);
const perGroup = Number(process.env.SMOKE_PER_GROUP);
const poison = process.env.SMOKE_POISON;
const WAIT_MS = 30_000;
const fail = (why) => {
  console.error(`await-deliveries (${stage}): ${why}`);
  process.exit(1);
};
if (!['delivered', 'replayed', 'reset'].includes(stage)) fail(`unknown stage "${stage}"`);

const onePass = (g) => {
  const values = Array.from({ length: perGroup }, (_, n) => `g${g}:${n}`).filter((v) => v !== poison);
  return stage === 'delivered' || !poison?.startsWith(`g${g}:`) ? values : [...values, poison];
};
const expected = new Map(Array.from({ length: groups }, (_, g) => [`g${g}`, stage === 'reset' ? [...onePass(g), ...onePass(g)] : onePass(g)]));

const received = async () => (await fetch(`${url}/received`)).json();
const byGroup = (accepted) => {
  const lists = new Map();
  for (const a of accepted) lists.set(a.group, [...(lists.get(a.group) ?? []), a]);
  return lists;
};
const matches = (lists) =>
  lists.size === expected.size &&
  [...expected].every(
    ([g, values]) =>
      lists
        .get(g)
        ?.map((a) => a.value)
        .join() === values.join(),
  );

const deadline = Date.now() + WAIT_MS;
let state = await received();
// Spans are batched (OTEL_BSP_SCHEDULE_DELAY): they may come a little after the deliveries.
while (!(matches(byGroup(state.accepted)) && state.spans > 0) && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 200));
  state = await received();
}
const lists = byGroup(state.accepted);
if (!matches(lists)) {
  const diff = [...new Set([...expected.keys(), ...lists.keys()])]
    .filter(
      (g) =>
        lists
          .get(g)
          ?.map((a) => a.value)
          .join() !== expected.get(g)?.join(),
    )
    .map(
      (g) =>
        `  ${g}: expected ${expected.get(g)?.join(',') ?? 'nothing'}\n  ${g}: received ${
          lists
            .get(g)
            ?.map((a) => a.value)
            .join(',') ?? 'nothing'
        }`,
    );
  fail(`within ${WAIT_MS / 1000} s the endpoint did not get exactly the expected deliveries:\n${diff.join('\n')}`);
}
if (state.spans === 0) fail(`no span reached the OTLP receiver within ${WAIT_MS / 1000} s (TRACING=on)`);
const replays = state.accepted.filter((a) => a.replayed).map((a) => a.value);
if (replays.some((v) => v !== poison)) fail(`replayed messages other than ${poison}: ${replays}`);
if (poison && state.refused === 0) fail(`${poison} was never refused, yet not delivered`);
const partitions = new Map();
for (const [g, list] of lists) {
  const used = new Set(list.map((a) => a.partition));
  if (used.size !== 1) fail(`${g} was delivered from partitions ${[...used]}`);
  partitions.set(g, list[0].partition);
}
const untraced = state.accepted.filter((a) => !/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/.test(a.traceparent ?? ''));
if (untraced.length > 0) fail(`${untraced.length} deliveries came without a traceparent, e.g. ${JSON.stringify(untraced[0])}`);

if (groupsFile) {
  const mapped = JSON.parse(readFileSync(groupsFile, 'utf8')).groups;
  const wrong = mapped.filter((m) => partitions.get(m.group) !== m.partition);
  if (mapped.length !== groups || wrong.length > 0)
    fail(`groups list shows ${JSON.stringify(mapped)}; the groups were delivered from ${JSON.stringify(Object.fromEntries(partitions))}`);
}
console.log(
  `await-deliveries (${stage}): ${state.accepted.length} messages of ${groups} groups pushed to the endpoint, each group in order from one partition` +
    `${poison ? `, ${poison} dead-lettered (refused ${state.refused} times)${stage === 'delivered' ? '' : ' and replayed'}` : ''}; ${state.spans} spans received` +
    `${groupsFile ? '; the CLI shows the partitions delivered from' : ''}`,
);
