import { heading, table } from './format.ts';
import type { SummaryFigures } from './summary.ts';

/** One line of the closing summary: a design target and what this run measured. */
export interface TargetRow {
  figure: string;
  target: string;
  measured: string;
  verdict: string;
}

/** What a section hands back to run.ts: its lines against the targets and its fields of the summary line. */
export interface SectionResult {
  targets: TargetRow[];
  figures: SummaryFigures;
}

export function printTargets(rows: TargetRow[]): void {
  heading('Summary against the targets');
  table(
    ['figure', 'target', 'measured', 'verdict'],
    rows.map((r) => [r.figure, r.target, r.measured, r.verdict]),
  );
}
