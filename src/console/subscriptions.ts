import type { OverviewView } from '../protocol/admin.ts';
import type { BlockedGroup, SubscriptionStatus } from '../protocol/subscriptions.ts';
import { ApiError, admin } from './api.ts';
import { confirmAction } from './confirm.ts';
import { button, facts, h, replace, table } from './dom.ts';
import type { Page } from './page.ts';

/** The CLI's one-line description of a blocked group's head. */
const describe = (b: BlockedGroup): string =>
  `partition ${b.partition} group ${b.group === null ? '(none)' : JSON.stringify(b.group)} offsets ${b.offsets.join(',')} attempt ${b.attempt}: ${b.error ?? ''}`;

const groupName = (group: string | null): string => group ?? '(no group)';

/** Each subscription on this replica: state, lag per partition, in-flight groups, dead letters, and its blocked groups. */
export function subscriptionsPage(): Page {
  const outcome = h('p', { class: 'result', role: 'status' });
  const list = h('div');
  let refreshNow: () => Promise<void> = async () => undefined;

  const say = (text: string, failed = false) => {
    outcome.textContent = text;
    outcome.className = failed ? 'result error' : 'result';
  };

  async function unblock(subscription: string, action: 'retry' | 'skip', b: BlockedGroup): Promise<void> {
    if (
      action === 'skip' &&
      !(await confirmAction(
        `Skip the head of group ${groupName(b.group)}?`,
        `The records at offsets ${b.offsets.join(', ')} of partition ${b.partition} are committed without being delivered: the endpoint never gets them.`,
        'Skip',
      ))
    )
      return;
    try {
      const answer = await admin<{ head: BlockedGroup }>('POST', ['subscriptions', subscription, 'blocked', action], {
        // The head shown (and confirmed): a head that moved since answers 409 and nothing changes.
        body: { partition: b.partition, message_group: b.group, offset: b.offsets[0] },
      });
      say(`${action === 'retry' ? 'retrying' : 'skipped'} ${describe(answer.head)}`);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      say(String(err), true);
    }
    await refreshNow();
  }

  function render(s: SubscriptionStatus): HTMLElement {
    const id = `sub-${s.name}`;
    const blockedRows = s.blocked_groups.map((b) => {
      const key = `${s.name}/${b.partition}/${b.group ?? ''}`;
      const what = `group ${groupName(b.group)} on partition ${b.partition}`;
      return [
        b.partition,
        groupName(b.group),
        b.offsets.join(', '),
        b.attempt,
        b.error ?? '',
        h(
          'div',
          { class: 'actions' },
          button('Retry', () => void unblock(s.name, 'retry', b), { 'aria-label': `Retry ${what}`, 'data-focus': `retry-${key}` }),
          button('Skip…', () => void unblock(s.name, 'skip', b), { 'aria-label': `Skip the head of ${what}`, 'data-focus': `skip-${key}` }),
        ),
      ];
    });
    return h(
      'section',
      { 'aria-labelledby': id, 'data-subscription': s.name },
      h('h3', { id }, s.name),
      facts([
        ['State', `${s.state}${s.ready ? '' : ' (not ready)'}${s.error === undefined ? '' : `: ${s.error}`}`],
        ['Topic', s.topic],
        ['Consumer group', s.consumer_group],
        ['Endpoint', s.endpoint],
        ['In-flight groups', s.in_flight_groups],
        ['Dead-lettered', s.counts.dead_lettered],
        ['Delivered, retried, skipped', `${s.counts.delivered}, ${s.counts.retried}, ${s.counts.skipped}`],
      ]),
      s.partitions.length === 0
        ? h('p', { class: 'muted' }, 'No partition of it is assigned to this replica.')
        : table(
            `Partitions of ${s.topic} assigned to this replica`,
            ['#Partition', '#Lag', '#Committed', '#End', 'In-flight groups', 'Paused'],
            s.partitions.map((p) => [
              p.partition,
              p.lag ?? '…',
              p.committed_offset ?? '…',
              p.end_offset ?? '…',
              p.in_flight_groups.map(groupName).join(', '),
              p.paused ? 'yes' : 'no',
            ]),
          ),
      s.blocked_groups.length === 0
        ? h('p', { class: 'muted' }, 'No blocked groups on this replica.')
        : table(`Blocked groups of ${s.name} on this replica`, ['#Partition', 'Group', 'Offsets', '#Attempt', 'Error', 'Actions'], blockedRows),
    );
  }

  const page: Page = {
    title: 'Subscriptions',
    mount(main) {
      main.append(
        h('h2', {}, 'Subscriptions'),
        h(
          'p',
          { class: 'note' },
          'Blocked groups are listed per replica: this page shows the groups blocked on the sidecar serving it. ',
          'A group blocked on another replica appears in that replica’s console (until blocked groups are shared).',
        ),
        outcome,
        list,
      );
    },
    async refresh() {
      const { subscriptions } = await admin<OverviewView>('GET', ['overview']);
      replace(
        list,
        ...(subscriptions.length === 0
          ? [h('p', { class: 'muted' }, 'This sidecar has no subscriptions (SUBSCRIPTIONS_FILE is not set).')]
          : subscriptions.map(render)),
      );
    },
  };
  refreshNow = () => page.refresh();
  return page;
}
