/**
 * The deduplication window's port to the shared store; src/redis implements it. Failures follow
 * src/errors/store-errors.ts, like the router's port.
 */

/** A claim this sidecar holds: the id and the slice hash its pending state lives in. */
export interface HeldClaim {
  id: string;
  sliceKey: string;
}

export type ClaimState = { kind: 'claimed' } | { kind: 'done'; partition: number; offset: string } | { kind: 'pending'; owner: string; deadline: number };

export type Outcome = { id: string; partition: number; offset: string } | { id: string; released: true };

export interface DedupStore {
  /** Claims `ids` for `owner`; new claims are written to `sliceKey`, which renewals must name. */
  claim(topic: string, ids: readonly string[], owner: string, leaseMs: number): Promise<{ states: ClaimState[]; sliceKey: string }>;
  /** Extends the leases of claims still held by `owner`; returns how many were renewed. */
  renew(claims: readonly HeldClaim[], owner: string, leaseMs: number): Promise<number>;
  /** Records outcomes in the slice holding each claim (`sliceKey`), or the newest slice without one. */
  settle(topic: string, outcomes: readonly (Outcome & { sliceKey?: string | undefined })[]): Promise<void>;
}
