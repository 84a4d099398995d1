import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSubscriptionsFit, loadSubscriptions, parseSubscriptions, readSubscriptionsFile, SubscriptionsError } from '../../src/consume/subscriptions.ts';
import { tempDir } from '../support/temp-dir.ts';

const minimal = {
  name: 'orders-app',
  topic: 'orders',
  consumer_group: 'orders-app',
  endpoint: 'http://127.0.0.1:3000/deliver',
  dead_letter_topic: 'orders.dlq',
};

const problem = (entry: Record<string, unknown>): string => {
  try {
    parseSubscriptions({ subscriptions: [entry] });
  } catch (err) {
    expect(err).toBeInstanceOf(SubscriptionsError);
    return (err as Error).message;
  }
  throw new Error('expected a SubscriptionsError');
};

describe('subscriptions file', () => {
  it('applies the documented defaults', () => {
    expect(parseSubscriptions({ subscriptions: [minimal] })).toEqual([
      {
        name: 'orders-app',
        topic: 'orders',
        consumerGroup: 'orders-app',
        endpoint: 'http://127.0.0.1:3000/deliver',
        startFrom: 'earliest',
        maxInFlightGroups: 64,
        batchMaxMessages: 1,
        ackTimeoutMs: 30_000,
        maxAttempts: 5,
        retryBackoffMs: 200,
        retryBackoffMaxMs: 30_000,
        onExhausted: 'dead-letter',
        deadLetterTopic: 'orders.dlq',
      },
    ]);
  });

  it('reads every field', () => {
    const [s] = parseSubscriptions({
      subscriptions: [
        {
          ...minimal,
          dead_letter_topic: undefined,
          start_from: 'latest',
          max_in_flight_groups: 8,
          batch_max_messages: 100,
          ack_timeout: '2s',
          max_attempts: 3,
          retry_backoff: '50ms',
          retry_backoff_max: '1s',
          on_exhausted: 'block',
        },
      ],
    });
    expect(s).toMatchObject({
      startFrom: 'latest',
      maxInFlightGroups: 8,
      batchMaxMessages: 100,
      ackTimeoutMs: 2000,
      maxAttempts: 3,
      retryBackoffMs: 50,
      retryBackoffMaxMs: 1000,
      onExhausted: 'block',
      deadLetterTopic: undefined,
    });
  });

  it('names the field of every problem', () => {
    expect(problem({ ...minimal, name: undefined })).toBe('subscriptions[0].name: is required');
    expect(problem({ ...minimal, endpoint: 'ftp://x' })).toBe('subscriptions[0].endpoint: must be an http:// or https:// URL');
    expect(problem({ ...minimal, start_from: 'middle' })).toBe('subscriptions[0].start_from: must be one of earliest, latest');
    expect(problem({ ...minimal, max_in_flight_groups: 0 })).toMatch(/^subscriptions\[0\]\.max_in_flight_groups: /);
    expect(problem({ ...minimal, batch_max_messages: 1.5 })).toMatch(/^subscriptions\[0\]\.batch_max_messages: /);
    expect(problem({ ...minimal, ack_timeout: 30 })).toMatch(/^subscriptions\[0\]\.ack_timeout: must be a duration/);
    expect(problem({ ...minimal, retry_backoff: '1s', retry_backoff_max: '500ms' })).toMatch(/^subscriptions\[0\]\.retry_backoff_max: must be at least 1000/);
    expect(problem({ ...minimal, on_exhausted: 'drop' })).toMatch(/^subscriptions\[0\]\.on_exhausted: /);
    expect(problem({ ...minimal, dead_letter_topic: undefined })).toBe('subscriptions[0].dead_letter_topic: is required');
    expect(problem({ ...minimal, on_exhausted: 'block' })).toMatch(/^subscriptions\[0\]\.dead_letter_topic: only applies/);
    expect(problem({ ...minimal, topic: '__consumer_offsets' })).toMatch(/^subscriptions\[0\]\.topic: /);
    expect(problem({ ...minimal, maxAttempts: 3 })).toBe('subscriptions[0].maxAttempts: unknown field');
  });

  it('refuses every duration longer than a Node timer can wait (it would fire after 1 ms), naming the field and the maximum', () => {
    const tooLong = 'must be at most 2147483647 ms (about 24.8 days), the longest timer Node keeps';
    expect(problem({ ...minimal, retry_backoff: '30d' })).toBe(`subscriptions[0].retry_backoff: ${tooLong}`);
    expect(problem({ ...minimal, retry_backoff_max: '30d' })).toBe(`subscriptions[0].retry_backoff_max: ${tooLong}`);
    expect(problem({ ...minimal, ack_timeout: '2147483648ms' })).toBe(`subscriptions[0].ack_timeout: ${tooLong}`);
    const [s] = parseSubscriptions({ subscriptions: [{ ...minimal, retry_backoff: '1s', retry_backoff_max: '2147483647ms' }] });
    expect(s).toMatchObject({ retryBackoffMs: 1000, retryBackoffMaxMs: 2_147_483_647 });
    expect(() => parseSubscriptions({ subscriptions: [minimal, minimal] })).toThrow('subscriptions[1].name: "orders-app" is used twice');
    expect(() => parseSubscriptions({ subs: [] })).toThrow('subs: unknown field');
  });

  it('reports an unreadable or malformed file in one line with its path', () => {
    const dir = tempDir('subs-');
    const path = join(dir, 'subs.json');
    expect(() => readSubscriptionsFile(path)).toThrow(`subscriptions file ${path}: cannot read it (ENOENT)`);
    writeFileSync(path, '{"subscriptions": [');
    expect(() => readSubscriptionsFile(path)).toThrow(new RegExp(`^subscriptions file ${path}: not JSON`));
    writeFileSync(path, JSON.stringify({ subscriptions: [{ ...minimal, max_attempts: 0 }] }));
    expect(() => readSubscriptionsFile(path)).toThrow(`subscriptions file ${path}: subscriptions[0].max_attempts: must be a whole number from 1 to 1000000`);
  });

  it('refuses an ack_timeout that does not fit in the consumer session timeout, naming the field', () => {
    const subs = parseSubscriptions({ subscriptions: [minimal, { ...minimal, name: 'slow', ack_timeout: '45s' }] });
    expect(() => checkSubscriptionsFit('/etc/subs.json', subs, { consumeSessionTimeoutMs: 60_000, maxMessagesPerRequest: 10_000 })).not.toThrow();
    expect(() => checkSubscriptionsFit('/etc/subs.json', subs, { consumeSessionTimeoutMs: 45_000, maxMessagesPerRequest: 10_000 })).toThrow(
      new SubscriptionsError(
        'subscriptions file /etc/subs.json: subscriptions[1].ack_timeout: 45000 ms must be below CONSUME_SESSION_TIMEOUT (45000 ms); lower it or raise the session timeout',
      ),
    );
  });

  it('refuses a dead-lettering batch_max_messages above MAX_MESSAGES_PER_REQUEST (its dead letter is one request), not a blocking one', () => {
    const limits = { consumeSessionTimeoutMs: 45_000, maxMessagesPerRequest: 50 };
    const big = parseSubscriptions({ subscriptions: [minimal, { ...minimal, name: 'big', batch_max_messages: 51 }] });
    expect(() => checkSubscriptionsFit('/etc/subs.json', big, limits)).toThrow(
      'subscriptions file /etc/subs.json: subscriptions[1].batch_max_messages: 51 must be at most MAX_MESSAGES_PER_REQUEST (50) with a dead_letter_topic',
    );
    const blocking = { ...minimal, name: 'big', batch_max_messages: 51, on_exhausted: 'block', dead_letter_topic: undefined };
    expect(() => checkSubscriptionsFit('/etc/subs.json', parseSubscriptions({ subscriptions: [blocking] }), limits)).not.toThrow();
  });

  describe('delivery authentication', () => {
    const dir = tempDir('subs-auth-');
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const read = (entry: Record<string, unknown>) => {
      const path = file('subs.json', JSON.stringify({ subscriptions: [{ ...minimal, ...entry }] }));
      return () => readSubscriptionsFile(path);
    };
    const https = { endpoint: 'https://app.internal/deliver' };

    it('reads auth_token_file, signing_secret_file and endpoint_ca_file (https only)', () => {
      const [s] = parseSubscriptions({
        subscriptions: [{ ...minimal, ...https, auth_token_file: '/run/token', signing_secret_file: '/run/secret', endpoint_ca_file: '/run/ca.pem' }],
      });
      expect(s).toMatchObject({ authTokenFile: '/run/token', signingSecretFile: '/run/secret', endpointCaFile: '/run/ca.pem' });
      expect(parseSubscriptions({ subscriptions: [minimal] })[0]).toMatchObject({
        authTokenFile: undefined,
        signingSecretFile: undefined,
        endpointCaFile: undefined,
      });
      expect(problem({ ...minimal, endpoint_ca_file: '/run/ca.pem' })).toBe('subscriptions[0].endpoint_ca_file: only applies to an https:// endpoint');
      expect(problem({ ...minimal, auth_token_file: '' })).toBe('subscriptions[0].auth_token_file: must be a non-empty string');
      expect(problem({ ...minimal, endpoint: 'https://app:pw@app.internal/', auth_token_file: '/run/token' })).toBe(
        'subscriptions[0].auth_token_file: cannot go with credentials in the endpoint URL (both are the Authorization header)',
      );
      expect(problem({ ...minimal, signing_secret_file: 7 })).toBe('subscriptions[0].signing_secret_file: must be a non-empty string');
    });

    it('refuses at start a file that is missing, empty or not a CA bundle, naming the field and never the contents', () => {
      const missing = join(dir, 'missing');
      expect(read({ auth_token_file: missing })).toThrow(`subscriptions[0].auth_token_file: cannot use ${missing} (ENOENT)`);
      const empty = file('empty', '\n');
      expect(read({ signing_secret_file: empty })).toThrow(`subscriptions[0].signing_secret_file: cannot use ${empty} (the file is empty)`);
      const notPem = file('not-pem', 'hunter2-not-a-certificate');
      // The whole message: the path and the reason, not the file's text.
      expect(read({ ...https, endpoint_ca_file: notPem })).toThrow(
        new RegExp(`^subscriptions file ${dir}/subs\\.json: subscriptions\\[0\\]\\.endpoint_ca_file: cannot use ${notPem} \\(holds no PEM certificate\\)$`),
      );
      const broken = file('broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      expect(read({ ...https, endpoint_ca_file: broken })).toThrow(/^subscriptions file .*: subscriptions\[0\]\.endpoint_ca_file: cannot use .*broken\.pem/);
      const token = file('token', 'the-token\n');
      expect(read({ auth_token_file: token, signing_secret_file: token })()[0]).toMatchObject({ authTokenFile: token, signingSecretFile: token });
    });

    it('refuses at start an auth_token_file the delivery could not send as a bearer token, as the delivery would (a signing secret may hold any)', () => {
      const spaced = file('spaced-token', 'sekret value\n');
      expect(read({ auth_token_file: spaced })).toThrow(`subscriptions[0].auth_token_file: cannot use ${spaced} (the token holds a space or a tab`);
      expect(read({ auth_token_file: spaced })).not.toThrow(/sekret/);
      expect(read({ signing_secret_file: spaced })()[0]).toMatchObject({ signingSecretFile: spaced });
    });

    it('loadSubscriptions reads the file and checks every ack_timeout against the session timeout, as the start needs', () => {
      const path = file('subs-slow.json', JSON.stringify({ subscriptions: [{ ...minimal, ack_timeout: '50s' }] }));
      expect(loadSubscriptions({ subscriptionsFile: undefined, consumeSessionTimeoutMs: 45_000, maxMessagesPerRequest: 10_000 })).toEqual([]);
      expect(loadSubscriptions({ subscriptionsFile: path, consumeSessionTimeoutMs: 60_000, maxMessagesPerRequest: 10_000 })).toHaveLength(1);
      expect(() => loadSubscriptions({ subscriptionsFile: path, consumeSessionTimeoutMs: 45_000, maxMessagesPerRequest: 10_000 })).toThrow(
        'subscriptions[0].ack_timeout: 50000 ms must be below CONSUME_SESSION_TIMEOUT (45000 ms)',
      );
    });
  });
});
