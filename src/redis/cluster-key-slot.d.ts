/** The Cluster slot (0..16383) of a key, hash tag honoured; the package ioredis itself routes by ships no types. */
declare module 'cluster-key-slot' {
  export default function calculateSlot(key: string): number;
}
