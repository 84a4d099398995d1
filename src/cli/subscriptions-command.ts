import { parseArgs } from 'node:util';
import type { BlockedGroup } from '../protocol/admin.ts';
import { AdminCallError, AdminClient } from './admin-client.ts';
import { expectAnswer, isBlockedList, isUnblocked } from './answers.ts';
import type { Io } from './groups-command.ts';

export const SUBSCRIPTIONS_USAGE = `  ordered-sidecar subscriptions blocked <subscription>      groups blocked after max_attempts on this sidecar
  ordered-sidecar subscriptions retry <subscription> <partition> <group>   deliver a blocked group's head again
  ordered-sidecar subscriptions skip <subscription> <partition> <group>    give up a blocked group's head (committed, not delivered)
    --no-group     instead of <group>: the records without a MessageGroup
    --url URL      the sidecar (default http://127.0.0.1:8080)
    --token TOKEN  admin bearer token (default $ADMIN_TOKEN)
    --json         print the sidecar's JSON answer`;

const OPTIONS = {
  url: { type: 'string', default: 'http://127.0.0.1:8080' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  'no-group': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const describe = (b: BlockedGroup) =>
  `partition ${b.partition} group ${b.group === null ? '(none)' : JSON.stringify(b.group)} offsets ${b.offsets.join(',')} attempt ${b.attempt}: ${b.error ?? ''}\n`;

/** `ordered-sidecar subscriptions ...`; resolves to the exit code (0 ok, 1 the sidecar refused or failed, 2 usage). */
export async function subscriptionsCommand(argv: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const usage = (why: string) => {
    io.err(`ordered-sidecar subscriptions: ${why}\n\nUsage:\n${SUBSCRIPTIONS_USAGE}\n`);
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
  const [command, name, partitionText, groupText] = positionals;
  const client = new AdminClient({ url: values.url, token: values.token ?? env.ADMIN_TOKEN });
  try {
    if (command === 'blocked' && name !== undefined && positionals.length === 2) {
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
    if ((command === 'retry' || command === 'skip') && name !== undefined && partitionText !== undefined) {
      const noGroup = values['no-group'];
      if (noGroup ? groupText !== undefined : groupText === undefined || positionals.length !== 4)
        return usage(`${command} takes <subscription> <partition> and <group> or --no-group`);
      if (!/^\d+$/.test(partitionText)) return usage('<partition> must be a whole number');
      const answer = await client.call('POST', ['subscriptions', name, 'blocked', command], {
        body: { partition: Number(partitionText), message_group: noGroup ? null : groupText },
      });
      const body = expectAnswer(answer, isUnblocked, "the group's head");
      io.out(values.json ? `${JSON.stringify(body)}\n` : `${command === 'retry' ? 'retrying' : 'skipped'} ${describe(body.head)}`);
      return 0;
    }
    return usage(command === undefined ? 'a subcommand is required' : `cannot run "${positionals.join(' ')}"`);
  } catch (err) {
    if (!(err instanceof AdminCallError)) throw err;
    const what = err.status === undefined ? '' : `${err.status}${err.code ? ` ${err.code}` : ''}: `;
    io.err(`ordered-sidecar subscriptions: ${what}${err.message}\n`);
    return 1;
  }
}
