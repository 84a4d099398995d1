/** A clock the test moves by hand: set or advance `ms`; hand `now` to the code under test (as its Clock). */
export interface FakeClock {
  ms: number;
  readonly now: () => number;
}

export function fakeClock(startMs = 0): FakeClock {
  const clock: FakeClock = { ms: startMs, now: () => clock.ms };
  return clock;
}
