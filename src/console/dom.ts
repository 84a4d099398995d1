/** Small DOM builders: the console renders with plain elements, no framework. */

export type Child = Node | string | number | null | undefined | false;

/** An element with attributes (false and undefined leave one out) and children (strings become text). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttributes(el, attrs);
  el.append(...nodes(children));
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element, built like `h`. */
export function s(tag: string, attrs: Record<string, string | number | boolean | undefined> = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag) as SVGElement;
  setAttributes(el, attrs);
  el.append(...nodes(children));
  return el;
}

function setAttributes(el: Element, attrs: Record<string, string | number | boolean | undefined>): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
}

const nodes = (children: Child[]): Array<Node | string> =>
  children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map((c) => (typeof c === 'number' ? String(c) : c));

/** A button that runs `onClick`. */
export function button(label: string, onClick: () => void, attrs: Record<string, string | boolean | undefined> = {}): HTMLButtonElement {
  const b = h('button', { type: 'button', ...attrs }, label);
  b.addEventListener('click', onClick);
  return b;
}

/** A term/description list from pairs. */
export const facts = (pairs: Array<[string, Child]>): HTMLDListElement =>
  h('dl', {}, ...pairs.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));

/** A table with a caption, column headers (a leading '#' right-aligns the column) and rows. */
export function table(caption: string, columns: string[], rows: Child[][]): HTMLElement {
  const numeric = columns.map((c) => c.startsWith('#'));
  const head = h('tr', {}, ...columns.map((c, i) => h('th', { scope: 'col', class: numeric[i] ? 'num' : undefined }, numeric[i] ? c.slice(1) : c)));
  const body = rows.map((r) => h('tr', {}, ...r.map((cell, i) => h('td', { class: numeric[i] ? 'num' : undefined }, cell))));
  return h('div', { class: 'scroll' }, h('table', {}, h('caption', { class: 'muted' }, caption), h('thead', {}, head), h('tbody', {}, ...body)));
}

/**
 * Replaces `into`'s children when they differ from the new ones. A refresh every few seconds mostly brings the
 * same numbers: the elements then stay, with what the operator is typing, their focus, and a click under way (a
 * button replaced between press and release gets no click). When they do change, the element focused before
 * that carried a `data-focus` key gets focus again in the new content.
 */
export function replace(into: Element, ...children: Child[]): void {
  const next = document.createElement('div');
  next.append(...nodes(children));
  if (next.innerHTML === into.innerHTML) return;
  const active = document.activeElement;
  const key = active instanceof HTMLElement && into.contains(active) ? active.dataset.focus : undefined;
  into.replaceChildren(...next.childNodes);
  if (key === undefined) return;
  const again = [...into.querySelectorAll<HTMLElement>('[data-focus]')].find((el) => el.dataset.focus === key);
  again?.focus();
}

/** ISO time to local "YYYY-MM-DD HH:MM" with the zone offset left to the title attribute. */
export const when = (iso: string): HTMLTimeElement => h('time', { datetime: iso, title: iso }, new Date(iso).toLocaleString());
