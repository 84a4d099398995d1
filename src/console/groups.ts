import type { ChangeView, GroupPage, LoadsView, MappingView } from '../protocol/admin.ts';
import { ApiError, admin } from './api.ts';
import { confirmAction } from './confirm.ts';
import { button, facts, h, replace, table, when } from './dom.ts';
import type { Page } from './page.ts';

const PAGE_SIZES = [25, 100, 500];

/** Look a group up, move or release it (the admin API's own safety checks apply), and list groups by prefix. */
export function groupsPage(): Page {
  const topicSelect = h('select', { id: 'topic', name: 'topic' });
  const groupInput = h('input', { id: 'group', name: 'group', required: true, autocomplete: 'off', spellcheck: 'false' });
  const found = h('div', { 'aria-live': 'polite' });
  const outcome = h('p', { class: 'result', role: 'status' });
  const prefixInput = h('input', { id: 'prefix', name: 'prefix', autocomplete: 'off', spellcheck: 'false' });
  const sizeSelect = h('select', { id: 'page-size' }, ...PAGE_SIZES.map((n) => h('option', { value: n }, n)));
  const listing = h('div');
  /** The group shown (looked up), and the page listed: refreshed until changed. */
  let shown: string | undefined;
  let listed: { prefix: string; cursor: string | undefined; limit: number } | undefined;
  /** What the operator typed as the target partition, kept across refreshes of the group shown. */
  let moveTo: string | undefined;

  const topic = (): string => topicSelect.value;
  const say = (text: string, failed = false) => {
    outcome.textContent = text;
    outcome.className = failed ? 'result error' : 'result';
  };

  async function showMapping(): Promise<void> {
    if (shown === undefined || topic() === '') return replace(found);
    let m: MappingView;
    try {
      m = await admin<MappingView>('GET', ['topics', topic(), 'groups', shown]);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return replace(found, h('p', { class: 'error' }, String(err)));
      throw err;
    }
    const loads = await admin<LoadsView>('GET', ['topics', topic(), 'loads']);
    const target = h('input', {
      id: 'move-to',
      type: 'number',
      min: 0,
      max: loads.partitions.length - 1,
      inputmode: 'numeric',
      'data-focus': 'move-to',
      value: moveTo ?? (m.partition + 1) % loads.partitions.length,
    });
    target.addEventListener('input', () => (moveTo = target.value));
    const moveForm = h(
      'form',
      { 'aria-label': `Move group ${m.group}` },
      h('label', { for: 'move-to' }, `Move to partition (0–${loads.partitions.length - 1})`),
      target,
      h('button', { type: 'submit', 'data-focus': 'move' }, 'Move…'),
      button('Release…', () => void release(m), { 'data-focus': 'release' }),
    );
    // The label wraps no input (the id links them), so the input keeps its place in the row.
    moveForm.addEventListener('submit', (e) => {
      e.preventDefault();
      void move(m, target.value);
    });
    replace(
      found,
      h('h3', {}, `Group ${m.group}`),
      facts([
        ['Topic', m.topic],
        ['Partition', h('span', { id: 'group-partition' }, m.partition)],
        ['Last access', h('span', {}, when(m.last_access), ' (start of the minute, Redis’s clock)')],
      ]),
      moveForm,
    );
  }

  async function move(m: MappingView, raw: string): Promise<void> {
    // The CLI's rule and words for a partition that is not a number.
    if (!/^\d+$/.test(raw)) return say(`partition must be a whole number, got "${raw}"`, true);
    const to = Number(raw);
    const sure = await confirmAction(
      `Move group ${m.group}?`,
      `Group "${m.group}" of topic "${m.topic}" moves from partition ${m.partition} to ${to}. The sidecar refuses unless the group has been idle ` +
        'long enough (ADMIN_MOVE_MIN_IDLE), so its order cannot break.',
      'Move',
    );
    if (!sure) return;
    await change(() => admin<ChangeView>('POST', ['topics', m.topic, 'groups', m.group, 'move'], { body: { partition: to } }));
  }

  async function release(m: MappingView): Promise<void> {
    const sure = await confirmAction(
      `Release group ${m.group}?`,
      `The mapping of group "${m.group}" of topic "${m.topic}" (partition ${m.partition}) is deleted; its next message is routed afresh, to the least ` +
        'loaded partition. The sidecar refuses unless the group has been idle long enough (ADMIN_MOVE_MIN_IDLE).',
      'Release',
    );
    if (!sure) return;
    await change(() => admin<ChangeView>('DELETE', ['topics', m.topic, 'groups', m.group]));
  }

  /** A move or release: the CLI's sentence on success, the sidecar's refusal as the CLI prints it otherwise. */
  async function change(call: () => Promise<ChangeView>): Promise<void> {
    say('Waiting for the sidecar (a change waits for every replica to drop its cached route)…');
    try {
      const c = await call();
      moveTo = undefined;
      say(
        c.released
          ? `released group "${c.group}" of topic "${c.topic}" (was on partition ${c.previous_partition}); its next message is routed afresh`
          : `moved group "${c.group}" of topic "${c.topic}": partition ${c.previous_partition} -> ${c.partition}`,
      );
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      say(String(err), true);
    }
    await showMapping();
    await showList();
  }

  async function showList(): Promise<void> {
    if (listed === undefined || topic() === '') return replace(listing);
    const page = await admin<GroupPage>('GET', ['topics', topic(), 'groups'], {
      query: { prefix: listed.prefix, cursor: listed.cursor, limit: String(listed.limit) },
    });
    const current = listed;
    const lookUp = (group: string) =>
      button(
        group,
        () => {
          groupInput.value = group;
          shown = group;
          moveTo = undefined;
          void showMapping().catch(report);
        },
        { 'data-focus': `look-${group}`, 'aria-label': `Look up ${group}` },
      );
    replace(
      listing,
      page.groups.length === 0
        ? h('p', { class: 'muted' }, current.prefix === '' ? 'No groups on this page.' : `No groups starting with "${current.prefix}" on this page.`)
        : table(
            `Groups of ${topic()}${current.prefix === '' ? '' : ` starting with "${current.prefix}"`}`,
            ['Group', '#Partition', 'Last access'],
            page.groups.map((g) => [lookUp(g.group), g.partition, when(g.last_access)]),
          ),
      h(
        'div',
        { class: 'row' },
        current.cursor !== undefined && button('First page', () => list({ ...current, cursor: undefined }), { 'data-focus': 'first' }),
        page.next_cursor !== null && button('Next page', () => list({ ...current, cursor: page.next_cursor! }), { 'data-focus': 'next' }),
      ),
    );
  }

  const report = (err: unknown) => say(String(err), true);
  const list = (what: typeof listed) => {
    listed = what;
    void showList().catch(report);
  };

  const lookupForm = h(
    'form',
    { 'aria-labelledby': 'lookup-title' },
    h('label', { for: 'group' }, 'Group'),
    groupInput,
    h('button', { type: 'submit' }, 'Look up'),
  );
  lookupForm.addEventListener('submit', (e) => {
    e.preventDefault();
    shown = groupInput.value;
    moveTo = undefined;
    say('');
    void showMapping().catch(report);
  });
  const listForm = h(
    'form',
    { 'aria-labelledby': 'list-title' },
    h('label', { for: 'prefix' }, 'Group name starts with'),
    prefixInput,
    h('label', { for: 'page-size' }, 'Per page'),
    sizeSelect,
    h('button', { type: 'submit' }, 'List'),
  );
  listForm.addEventListener('submit', (e) => {
    e.preventDefault();
    list({ prefix: prefixInput.value, cursor: undefined, limit: Number(sizeSelect.value) });
  });
  topicSelect.addEventListener('change', () => {
    shown = undefined;
    listed = undefined;
    replace(found);
    replace(listing);
  });

  return {
    title: 'Groups',
    mount(main) {
      main.append(
        h('h2', {}, 'Groups'),
        h('div', { class: 'row' }, h('label', { for: 'topic' }, 'Topic'), topicSelect),
        h('h3', { id: 'lookup-title' }, 'Look up a group'),
        lookupForm,
        outcome,
        found,
        h('h3', { id: 'list-title' }, 'List groups'),
        listForm,
        listing,
      );
    },
    async refresh() {
      const { topics } = await admin<{ topics: string[] }>('GET', ['topics']);
      const wanted = topicSelect.value || topics[0] || '';
      const names = topics.toSorted();
      if (names.join('\n') !== [...topicSelect.options].map((o) => o.value).join('\n')) {
        topicSelect.replaceChildren(...names.map((t) => h('option', { value: t }, t)));
        if (names.includes(wanted)) topicSelect.value = wanted;
      }
      await showMapping();
      await showList();
    },
  };
}
