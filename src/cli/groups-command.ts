import { parseArgs } from 'node:util';
import { MAX_LIST_LIMIT, type GroupPage, type GroupView } from '../protocol/admin.ts';
import { AdminCallError, AdminClient, adminToken, urlProblem } from './admin-client.ts';
import { expectAnswer, isBackfillView, isChangeView, isGroupPage, isLoadsView, isMappingView, isRebuildView, isResumeView, isTopicList } from './answers.ts';

export const GROUPS_USAGE = `  ordered-sidecar groups topics                       topics that have MessageGroup mappings
  ordered-sidecar groups get <topic> <group>          a group's partition and last access
  ordered-sidecar groups list <topic> [--prefix P] [--limit N] [--cursor C] [--all]
  ordered-sidecar groups loads <topic>                groups per partition and the deviation
  ordered-sidecar groups release <topic> <group>      delete an idle group's mapping
  ordered-sidecar groups move <topic> <group> <partition>   move an idle group (refused unless safe)
  ordered-sidecar groups rebuild <topic>              restore from the route log the mappings Redis misses
  ordered-sidecar groups resume <topic>               assign new groups again after a state loss with the route log off
  ordered-sidecar groups backfill <topic>             write the mappings Redis has to the route log (once, after turning it on)
    --url URL      the sidecar (default http://127.0.0.1:8080)
    --token TOKEN  admin bearer token (default $ADMIN_TOKEN, else the file $ADMIN_TOKEN_FILE)
    --json         print the sidecar's JSON answer`;

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Thrown for a malformed command line (exit code 2, usage printed). */
class UsageError extends Error {}

const OPTIONS = {
  url: { type: 'string', default: 'http://127.0.0.1:8080' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  prefix: { type: 'string' },
  all: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** `ordered-sidecar groups ...`; resolves to the process exit code (0 ok, 1 the sidecar refused or failed, 2 usage). */
export async function groupsCommand(argv: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (err) {
    io.err(`ordered-sidecar groups: ${(err as Error).message}\n\nUsage:\n${GROUPS_USAGE}\n`);
    return 2;
  }
  if (values.help || positionals.length === 0) {
    io.out(`Usage:\n${GROUPS_USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const badUrl = urlProblem(values.url);
  if (badUrl) {
    io.err(`ordered-sidecar groups: ${badUrl}\n\nUsage:\n${GROUPS_USAGE}\n`);
    return 2;
  }
  try {
    const client = new AdminClient({ url: values.url, token: adminToken(values.token, env) });
    await run(client, positionals, values, io);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`ordered-sidecar groups: ${err.message}\n\nUsage:\n${GROUPS_USAGE}\n`);
      return 2;
    }
    if (err instanceof AdminCallError) {
      const what = err.status === undefined ? '' : `${err.status}${err.code ? ` ${err.code}` : ''}: `;
      io.err(`ordered-sidecar groups: ${what}${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

function args(positionals: string[], names: string[]): string[] {
  const given = positionals.slice(1);
  if (given.length !== names.length) throw new UsageError(`${positionals[0]} takes ${names.map((n) => `<${n}>`).join(' ') || 'no arguments'}`);
  const empty = given.findIndex((value) => value === '');
  if (empty >= 0) throw new UsageError(`<${names[empty]}> must not be empty`);
  return given;
}

async function run(client: AdminClient, positionals: string[], values: Values, io: Io): Promise<void> {
  const print = (json: unknown, human: () => string) => io.out(values.json ? `${JSON.stringify(json)}\n` : human());
  switch (positionals[0]) {
    case 'topics': {
      args(positionals, []);
      const body = expectAnswer(await client.call('GET', ['topics']), isTopicList, 'a topic list');
      return print(body, () => (body.topics.length === 0 ? 'no topic has MessageGroup mappings\n' : body.topics.map((t) => `${t}\n`).join('')));
    }
    case 'get': {
      const [topic, group] = args(positionals, ['topic', 'group']) as [string, string];
      const m = expectAnswer(await client.call('GET', ['topics', topic, 'groups', group]), isMappingView, 'a mapping');
      return print(
        m,
        () =>
          `topic        ${m.topic}\ngroup        ${m.group}\npartition    ${m.partition}\nlast access  ${m.last_access} (start of the minute, Redis's clock)\n`,
      );
    }
    case 'list':
      return list(client, args(positionals, ['topic'])[0]!, values, io);
    case 'loads': {
      const [topic] = args(positionals, ['topic']) as [string];
      const l = expectAnswer(await client.call('GET', ['topics', topic, 'loads']), isLoadsView, 'partition loads');
      return print(l, () => {
        const head = `topic ${l.topic}: ${l.total} groups on ${l.partitions.length} partitions, max-min ${l.max_minus_min}, deviation ${l.deviation.toFixed(3)}\n`;
        const beyond =
          l.beyond_topic > 0
            ? `and ${l.beyond_topic} groups mapped to partitions the topic no longer has (recreated smaller?): find them with \`groups list\`, release each\n`
            : '';
        return `${head}PARTITION  GROUPS\n${l.partitions.map((p) => `${String(p.partition).padEnd(9)}  ${p.groups}\n`).join('')}${beyond}`;
      });
    }
    case 'release': {
      const [topic, group] = args(positionals, ['topic', 'group']) as [string, string];
      const c = expectAnswer(
        await client.call('DELETE', ['topics', topic, 'groups', group], { check: checkMapping(topic, group) }),
        isChangeView,
        'a mapping change',
      );
      return print(
        c,
        () => `released group "${c.group}" of topic "${c.topic}" (was on partition ${c.previous_partition}); its next message is routed afresh\n`,
      );
    }
    case 'move': {
      const [topic, group, raw] = args(positionals, ['topic', 'group', 'partition']) as [string, string, string];
      if (!/^\d+$/.test(raw)) throw new UsageError(`partition must be a whole number, got "${raw}"`);
      const c = expectAnswer(
        await client.call('POST', ['topics', topic, 'groups', group, 'move'], { body: { partition: Number(raw) }, check: checkMapping(topic, group) }),
        isChangeView,
        'a mapping change',
      );
      return print(c, () => `moved group "${c.group}" of topic "${c.topic}": partition ${c.previous_partition} -> ${c.partition}\n`);
    }
    case 'rebuild': {
      const [topic] = args(positionals, ['topic']) as [string];
      const r = expectAnswer(
        await client.call('POST', ['topics', topic, 'rebuild'], {
          check: `running it again is safe: it restores only what Redis still misses (ordered-sidecar groups rebuild ${shellWord(topic)})`,
        }),
        isRebuildView,
        'a rebuild',
      );
      return print(r, () => `topic "${r.topic}": ${r.restored} mappings restored from the route log\n`);
    }
    case 'backfill': {
      const [topic] = args(positionals, ['topic']) as [string];
      const r = expectAnswer(
        await client.call('POST', ['topics', topic, 'backfill'], {
          check: `running it again is safe: it only writes the same records again (ordered-sidecar groups backfill ${shellWord(topic)})`,
        }),
        isBackfillView,
        'a backfill',
      );
      return print(r, () => `topic "${r.topic}": ${r.logged} mappings written to the route log\n`);
    }
    case 'resume': {
      const [topic] = args(positionals, ['topic']) as [string];
      const r = expectAnswer(await client.call('POST', ['topics', topic, 'resume']), isResumeView, 'a resume');
      return print(r, () => `topic "${r.topic}": new MessageGroups are assigned again\n`);
    }
    default:
      throw new UsageError(`unknown subcommand "${positionals[0]}"`);
  }
}

/** A name as a shell word, quoted when it holds anything a shell would read otherwise. */
const shellWord = (name: string): string => (/^[\w.@%+=:,/-]+$/.test(name) ? name : `'${name.replaceAll("'", `'\\''`)}'`);

/** How to see where a move or release whose answer never came left the group. */
const checkMapping = (topic: string, group: string): string =>
  `see where the group is now with: ordered-sidecar groups get ${shellWord(topic)} ${shellWord(group)}`;

/** One page, or with --all every page (as one JSON object with --json, so machines get one document). */
async function list(client: AdminClient, topic: string, values: Values, io: Io): Promise<void> {
  if (values.limit !== undefined && !(/^\d+$/.test(values.limit) && Number(values.limit) >= 1 && Number(values.limit) <= MAX_LIST_LIMIT))
    throw new UsageError(`--limit must be a whole number from 1 to ${MAX_LIST_LIMIT}, got "${values.limit}"`);
  const groups: GroupView[] = [];
  let cursor = values.cursor;
  let page: GroupPage;
  do {
    page = expectAnswer(
      await client.call('GET', ['topics', topic, 'groups'], { query: { limit: values.limit, cursor, prefix: values.prefix } }),
      isGroupPage,
      'a page of groups',
    );
    groups.push(...page.groups);
    cursor = page.next_cursor ?? undefined;
  } while (values.all && cursor !== undefined);
  if (values.json) {
    io.out(`${JSON.stringify({ groups, next_cursor: page.next_cursor })}\n`);
    return;
  }
  io.out(`PARTITION  LAST ACCESS               GROUP\n${groups.map((g) => `${String(g.partition).padEnd(9)}  ${g.last_access}  ${g.group}\n`).join('')}`);
  if (page.next_cursor !== null) io.err(`more groups: add --cursor ${page.next_cursor} (or --all)\n`);
}
