import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningSidecar } from '../src/sidecar.ts';
import { startTestSidecar } from '../test/support/sidecar.ts';
import { main as accountTransactions } from './account-transactions.ts';
import type { ExampleOptions, ExampleResult } from './example-support.ts';
import { main as gameState } from './game-state.ts';
import { main as orderEvents } from './order-events.ts';

let sidecar: RunningSidecar;

beforeAll(async () => {
  sidecar = await startTestSidecar();
});

afterAll(async () => {
  await sidecar.close();
});

const examples: [string, (options: ExampleOptions) => Promise<ExampleResult>, RegExp][] = [
  ['order events per user', orderEvents, /^user-\d+$/],
  ['account transactions', accountTransactions, /^account-\d+$/],
  ['game state changes', gameState, /^player-\d+$/],
];

describe('the examples, against a real sidecar', () => {
  it.each(examples)('%s: every group is read back in the order it was sent', async (_name, main, groupName) => {
    const printed: string[] = [];
    const result = await main({ sidecarUrl: sidecar.url, kafkaBrokers: inject('kafkaBrokers'), print: (line) => printed.push(line) });
    expect(Object.keys(result.sent).length).toBeGreaterThan(1);
    for (const group of Object.keys(result.sent)) expect(group).toMatch(groupName);
    expect(result.observed).toEqual(result.sent);
    expect(printed.join('\n')).not.toContain('OUT OF ORDER');
    expect(printed.filter((l) => l.includes('[in order]'))).toHaveLength(Object.keys(result.sent).length);
  });
});
