/** One page of the console: built once when shown, its numbers refreshed every few seconds. */
export interface Page {
  title: string;
  mount(main: HTMLElement): void;
  refresh(): Promise<void>;
}
