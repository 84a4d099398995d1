import { heading, table } from './format.ts';

/** One line of the closing summary: a design target and what this run measured. */
export interface TargetRow {
  figure: string;
  target: string;
  measured: string;
  verdict: string;
}

export function printTargets(rows: TargetRow[]): void {
  heading('Summary against the design targets');
  table(['figure', 'target', 'measured', 'verdict'], rows.map((r) => [r.figure, r.target, r.measured, r.verdict]));
}
