import type { LoadsView } from '../protocol/admin.ts';
import { h, s } from './dom.ts';

const HEIGHT = 160;
const AXIS = 16;
const TOP = 12;

/**
 * Groups per partition as an inline SVG bar chart, with the mean as a dashed line. Each bar carries its
 * numbers as data attributes and a title (a tooltip); the whole chart is described in its label.
 */
export function loadsChart(loads: LoadsView): HTMLElement {
  const n = loads.partitions.length;
  const bar = Math.max(6, Math.min(48, Math.floor(720 / Math.max(n, 1))));
  // Room on the right for the mean's label.
  const width = n * bar + 64;
  const max = Math.max(1, ...loads.partitions.map((p) => p.groups));
  const y = (groups: number): number => TOP + (HEIGHT - TOP - AXIS) * (1 - groups / max);
  const mean = n === 0 ? 0 : loads.total / n;
  const labelled = n <= 40;
  const bars = loads.partitions.map((p, i) =>
    s(
      'g',
      {},
      s(
        'rect',
        {
          class: 'bar',
          x: i * bar + 1,
          y: y(p.groups),
          width: bar - 2,
          height: Math.max(0, HEIGHT - AXIS - y(p.groups)),
          'data-partition': p.partition,
          'data-groups': p.groups,
        },
        s('title', {}, `partition ${p.partition}: ${p.groups} groups`),
      ),
      labelled && s('text', { x: i * bar + bar / 2, y: HEIGHT - 4, 'text-anchor': 'middle' }, p.partition),
    ),
  );
  const description = `Groups per partition of ${loads.topic}: ${loads.partitions.map((p) => `partition ${p.partition} ${p.groups}`).join(', ')}; mean ${mean.toFixed(1)}`;
  const chart = s(
    'svg',
    // Drawn at its natural size (one bar per partition), shrunk to fit a narrow window by the style sheet.
    { class: 'chart', width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img', 'aria-label': description },
    ...bars,
    s('line', { class: 'mean', x1: 0, x2: width, y1: y(mean), y2: y(mean) }),
    s('text', { x: width - 2, y: Math.max(10, y(mean) - 3), 'text-anchor': 'end' }, `mean ${mean.toFixed(1)}`),
  );
  return h(
    'figure',
    { 'data-topic': loads.topic },
    chart,
    h(
      'figcaption',
      {},
      `${loads.topic}: ${loads.total} groups on ${n} partitions, max−min ${loads.max_minus_min}, deviation ${loads.deviation.toFixed(3)}${
        loads.beyond_topic > 0 ? `; ${loads.beyond_topic} groups mapped to partitions the topic no longer has (release them)` : ''
      }`,
    ),
  );
}
