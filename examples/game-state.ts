/**
 * Game state changes per player: a player's moves are batched (one MessageGroup per call) and sent as bytes;
 * players play concurrently, each player's state must be rebuilt in move order.
 *
 *   SIDECAR_URL=http://127.0.0.1:8080 KAFKA_BROKERS=127.0.0.1:9092 node examples/game-state.ts
 */
import { Client } from '../src/sdk/index.ts';
import { createTopic, kafkaFor, printOrder, readBack, resolveExample, runFromCommandLine, type ExampleOptions, type ExampleResult } from './example-support.ts';

const PLAYERS = 3;
const ROUNDS = 3;
const MOVES_PER_ROUND = 4;

/** A compact binary state change: round, move, x, y (one byte each). */
const encode = (round: number, move: number, x: number, y: number): Uint8Array => Uint8Array.of(round, move, x, y);
const decode = (value: Buffer | null): string => (value ? `r${value[0]}m${value[1]}@${value[2]},${value[3]}` : 'null');

export async function main(options: ExampleOptions = {}): Promise<ExampleResult> {
  const { sidecarUrl, kafkaBrokers, topic, print } = resolveExample('game-state', options);
  const kafka = kafkaFor(kafkaBrokers);
  await createTopic(kafka, topic, 4);

  const client = new Client({ url: sidecarUrl });
  const producer = client.orderedProducer();
  const sent: Record<string, string[]> = {};
  await Promise.all(
    Array.from({ length: PLAYERS }, async (_, p) => {
      const player = `player-${p + 1}`;
      for (let round = 1; round <= ROUNDS; round++) {
        const moves = Array.from({ length: MOVES_PER_ROUND }, (_, m) => encode(round, m + 1, (p * 7 + m) % 10, (round * 3 + m) % 10));
        for (const move of moves) (sent[player] ??= []).push(decode(Buffer.from(move)));
        await producer.sendMessageGroupBatch(
          topic,
          player,
          moves.map((value) => ({ value, headers: { 'content-type': 'application/x-move' } })),
        );
      }
    }),
  );
  await client.close();

  const observed = await readBack(kafka, topic, PLAYERS * ROUNDS * MOVES_PER_ROUND, decode);
  const result = { topic, sent, observed };
  printOrder('game state changes', result, print);
  return result;
}

if (import.meta.main) await runFromCommandLine(main);
