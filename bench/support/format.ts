/** Plain-text tables and number formatting for the benchmark report. */

export const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');

export function fmtNum(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export const fmtPct = (ratio: number, digits = 2): string => `${fmtNum(ratio * 100, digits)} %`;

/** Milliseconds shown in the most readable unit (ns, µs or ms). */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms < 0) return `-${fmtMs(-ms)}`; // a difference of two noisy figures can be negative
  if (ms < 0.001) return `${fmtNum(ms * 1e6, 0)} ns`;
  if (ms < 1) return `${fmtNum(ms * 1e3, ms < 0.01 ? 2 : 1)} µs`;
  return `${fmtNum(ms, ms < 10 ? 2 : 1)} ms`;
}

export function heading(title: string): void {
  console.log(`\n== ${title} ${'='.repeat(Math.max(0, 96 - title.length))}`);
}

export function note(text: string): void {
  console.log(`   note: ${text}`);
}

/** Prints rows as an aligned table; columns whose cells all look like figures ("1,234", "3.2 ms") are right-aligned. */
export function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const figure = /^[-+~<>]?\s?[\d,.]+(\s?[^\s\d]+)?$/;
  const right = header.map((_, c) => c > 0 && rows.every((r) => (r[c] ?? '') === '' || figure.test(r[c]!)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

/**
 * "meets" / "MISSES" against a target where smaller is better; a miss says by how much, in the figure's own
 * unit when `show` formats it.
 */
export function verdict(value: number, target: number, show?: (n: number) => string): string {
  if (value < target) return `meets (${fmtNum(target / value, 1)}x margin)`;
  return `MISSES by ${show ? `${show(value - target)}, ` : ''}${fmtPct(value / target - 1, 0)} over (${fmtNum(value / target, 2)}x target)`;
}

/** Same, where bigger is better. */
export function verdictAtLeast(value: number, target: number, show?: (n: number) => string): string {
  if (value >= target) return `meets (${fmtNum(value / target, 2)}x target)`;
  return `MISSES by ${show ? `${show(target - value)}, ` : ''}${fmtPct(1 - value / target, 0)} short (${fmtPct(value / target, 0)} of target)`;
}
