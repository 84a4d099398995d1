import type { SidecarCapabilities } from './capabilities.ts';
import type { ResolvedClientOptions } from './client-options.ts';
import type { GroupSequencer } from './group-sequencer.ts';
import type { HttpClient } from './http.ts';
import type { InDoubtGroups } from './in-doubt.ts';
import type { KafkaFallback } from './kafka-fallback.ts';

/** Where a client's sends go, decided once on first use. */
export type Route = { via: 'sidecar'; endpoint: string; capabilities: SidecarCapabilities } | { via: 'kafka'; fallback: KafkaFallback };

/** What OrderedProducer needs from its Client; kept in a WeakMap so it stays out of the public API. */
export interface ClientInternals {
  options: ResolvedClientOptions;
  http: HttpClient;
  sequencer: GroupSequencer;
  doubts: InDoubtGroups;
  route(): Promise<Route>;
  /** Starts a send (synchronously, so its place in the group queues is taken now) unless the client is closed; `close()` waits for it. */
  run<T>(send: () => Promise<T>): Promise<T>;
  /** A sidecar answer said dedup was skipped (Redis unreachable): warned once per client. */
  dedupUnavailable(topic: string): void;
}

const registry = new WeakMap<object, ClientInternals>();

export const registerInternals = (client: object, internals: ClientInternals): void => {
  registry.set(client, internals);
};

export function internalsOf(client: object): ClientInternals {
  const found = registry.get(client);
  if (!found) throw new TypeError('OrderedProducer needs a Client created with `new Client(...)`');
  return found;
}
