import { parseArgs } from 'node:util';
import { AdminCallError, AdminClient, adminToken, urlProblem } from './admin-client.ts';
import { expectAnswer, isBlockedList, isReplayed, isReset, isRunState, isUnblocked } from './answers.ts';
import type { Io } from './groups-command.ts';
import type { BlockedGroup } from '../protocol/subscriptions.ts';

export const SUBSCRIPTIONS_USAGE = `  ordered-sidecar subscriptions blocked <subscription>      groups blocked after max_attempts on this sidecar
  ordered-sidecar subscriptions retry <subscription> <partition> <group>   deliver a blocked group's head again
  ordered-sidecar subscriptions skip <subscription> <partition> <group>    give up a blocked group's head (committed, not delivered)
    --no-group     instead of <group>: the records without a MessageGroup
    --offset N     act only if the head still starts at offset N (as "blocked" shows it); else 409, nothing changed
  ordered-sidecar subscriptions stop|start <subscription>   stop (gracefully) or start consuming it on this sidecar
  ordered-sidecar subscriptions reset <subscription> --to earliest|latest|<time>   move its consumer group (stopped on every replica)
  ordered-sidecar dlq replay <subscription> [--group G] [--from <time>] [--to <time>]   produce its dead letters again, in order
    <time>         ISO 8601 with a zone (2026-12-04T21:00:00Z) or Unix milliseconds; --from inclusive, --to exclusive
    --url URL      the sidecar (default http://127.0.0.1:8080)
    --token TOKEN  admin bearer token (default $ADMIN_TOKEN, else the file $ADMIN_TOKEN_FILE)
    --json         print the sidecar's JSON answer`;

const OPTIONS = {
  url: { type: 'string', default: 'http://127.0.0.1:8080' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  'no-group': { type: 'boolean', default: false },
  offset: { type: 'string' },
  group: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const describe = (b: BlockedGroup) =>
  `partition ${b.partition} group ${b.group === null ? '(none)' : JSON.stringify(b.group)} offsets ${b.offsets.join(',')} attempt ${b.attempt}: ${b.error ?? ''}\n`;

/** A replay reads the whole dead-letter range in one call: allow it far longer than a mapping call. */
const REPLAY_TIMEOUT_MS = 30 * 60_000;

/**
 * `ordered-sidecar subscriptions ...` and `ordered-sidecar dlq ...` (`command` says which); resolves to the
 * exit code (0 ok, 1 the sidecar refused or failed, 2 usage).
 */
export async function subscriptionsCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  io: Io,
  command: 'subscriptions' | 'dlq' = 'subscriptions',
): Promise<number> {
  const usage = (why: string) => {
    io.err(`ordered-sidecar ${command}: ${why}\n\nUsage:\n${SUBSCRIPTIONS_USAGE}\n`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    return usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(`Usage:\n${SUBSCRIPTIONS_USAGE}\n`);
    return 0;
  }
  const badUrl = urlProblem(values.url);
  if (badUrl) return usage(badUrl);
  const [sub, name, partitionText, groupText] = positionals;
  if (name === '') return usage('<subscription> must not be empty');
  const onlyName = name !== undefined && positionals.length === 2;
  const print = (body: unknown, text: string) => io.out(values.json ? `${JSON.stringify(body)}\n` : text);
  try {
    // Inside the try: an unreadable ADMIN_TOKEN_FILE is an AdminCallError, one line and exit 1.
    const client = new AdminClient({ url: values.url, token: adminToken(values.token, env), ...(command === 'dlq' ? { timeoutMs: REPLAY_TIMEOUT_MS } : {}) });
    if (command === 'dlq') {
      if (sub !== 'replay' || !onlyName) return usage(sub === undefined ? 'a subcommand is required' : `cannot run "dlq ${positionals.join(' ')}"`);
      const answer = await client.call('POST', ['subscriptions', name, 'dlq', 'replay'], {
        body: { message_group: values.group, from: values.from, to: values.to },
      });
      const body = expectAnswer(answer, isReplayed, 'a replay result');
      print(
        body,
        `replayed ${body.replayed} dead letter(s) of ${name} from ${body.dead_letter_topic} to ${body.topic} ` +
          `(${body.duplicates} already replayed before, not written again; ${body.read} record(s) read)\n` +
          (body.dedup_unavailable ? 'warning: Redis was out of reach, so some were written without the duplicate check\n' : ''),
      );
      return 0;
    }
    if (values.group !== undefined || values.from !== undefined || (values.to !== undefined && sub !== 'reset'))
      return usage('--group, --from and --to belong to "dlq replay" (and --to to "subscriptions reset")');
    if (values.offset !== undefined && sub !== 'retry' && sub !== 'skip') return usage('--offset belongs to "subscriptions retry" and "subscriptions skip"');
    if ((sub === 'stop' || sub === 'start') && onlyName) {
      const body = expectAnswer(await client.call('POST', ['subscriptions', name, sub]), isRunState, "the subscription's state");
      print(body, `${name}: ${body.state} on this sidecar\n`);
      return 0;
    }
    if (sub === 'reset' && onlyName) {
      if (values.to === undefined) return usage('reset takes --to earliest|latest|<time>');
      const body = expectAnswer(await client.call('POST', ['subscriptions', name, 'reset'], { body: { to: values.to } }), isReset, 'a reset result');
      print(
        body,
        `consumer group ${body.consumer_group} of ${name} moved to ${body.to}:\n` +
          body.partitions.map((p) => `  partition ${p.partition}: ${p.previous_offset ?? '(none)'} -> ${p.offset}\n`).join(''),
      );
      return 0;
    }
    if (sub === 'blocked' && onlyName) {
      const body = expectAnswer(await client.call('GET', ['subscriptions', name, 'blocked']), isBlockedList, 'a list of blocked groups');
      io.out(
        values.json
          ? `${JSON.stringify(body)}\n`
          : body.blocked_groups.length === 0
            ? 'no blocked groups on this sidecar\n'
            : body.blocked_groups.map(describe).join(''),
      );
      return 0;
    }
    if ((sub === 'retry' || sub === 'skip') && name !== undefined && partitionText !== undefined) {
      const noGroup = values['no-group'];
      if (noGroup ? groupText !== undefined : groupText === undefined || positionals.length !== 4)
        return usage(`${sub} takes <subscription> <partition> and <group> or --no-group`);
      if (!/^\d+$/.test(partitionText)) return usage('<partition> must be a whole number');
      if (values.offset !== undefined && !/^\d+$/.test(values.offset)) return usage('--offset must be a whole number (the first offset of the head)');
      const answer = await client.call('POST', ['subscriptions', name, 'blocked', sub], {
        body: { partition: Number(partitionText), message_group: noGroup ? null : groupText, offset: values.offset },
      });
      const body = expectAnswer(answer, isUnblocked, "the group's head");
      io.out(values.json ? `${JSON.stringify(body)}\n` : `${sub === 'retry' ? 'retrying' : 'skipped'} ${describe(body.head)}`);
      return 0;
    }
    return usage(sub === undefined ? 'a subcommand is required' : `cannot run "${positionals.join(' ')}"`);
  } catch (err) {
    if (!(err instanceof AdminCallError)) throw err;
    const what = err.status === undefined ? '' : `${err.status}${err.code ? ` ${err.code}` : ''}: `;
    io.err(`ordered-sidecar ${command}: ${what}${err.message}\n`);
    return 1;
  }
}
