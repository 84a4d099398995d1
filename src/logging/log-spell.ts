import type { LogFields, Logger } from './logger.ts';

/**
 * A run of refusals or failures logged as one spell: a warning at its first, then, once things work again, one
 * info line with how many there were. One line each would be one a request under load, or one a second through
 * an outage.
 */
export class LogSpell {
  readonly #log: Logger;
  readonly #started: string;
  readonly #ended: string;
  /** The name of the count on the closing line (refusedRequests, failedChecks, ...). */
  readonly #countField: string;
  #count = 0;

  constructor(log: Logger, started: string, ended: string, countField: string) {
    this.#log = log;
    this.#started = started;
    this.#ended = ended;
    this.#countField = countField;
  }

  /** One more of the spell; the first is logged, with `fields`. */
  add(fields?: LogFields): void {
    if (this.#count++ === 0) this.#log.warn(this.#started, fields);
  }

  /** Things work again: a spell under way ends with its count (and `fields`); otherwise nothing. */
  end(fields?: LogFields): void {
    if (this.#count === 0) return;
    this.#log.info(this.#ended, { ...fields, [this.#countField]: this.#count });
    this.#count = 0;
  }
}
