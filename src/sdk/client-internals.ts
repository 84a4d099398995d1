import type { SidecarCapabilities } from './capabilities.ts';
import type { ResolvedClientOptions } from './client-options.ts';
import type { GroupSequencer } from './group-sequencer.ts';
import type { KafkaFallback } from './kafka-fallback.ts';

/** Where a client's sends go, decided once on first use. */
export type Route =
  | { via: 'sidecar'; endpoint: string; capabilities: SidecarCapabilities }
  | { via: 'kafka'; fallback: KafkaFallback; reason: 'unsupported' | 'unreachable' };

/** What OrderedProducer needs from its Client; kept in a WeakMap so it stays out of the public API. */
export interface ClientInternals {
  options: ResolvedClientOptions;
  sequencer: GroupSequencer;
  route(): Promise<Route>;
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
