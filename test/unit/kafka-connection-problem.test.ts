import { describe, expect, it } from 'vitest';
import { KafkaConnectionProblem, kafkaFailureCause } from '../../src/kafka/connection-problem.ts';

describe('kafkaFailureCause', () => {
  it.each([
    ['SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials', 'authentication failed'],
    ['Response SaslAuthenticate(key: 36, version: 1): Authentication failed', 'authentication failed'],
    ['Connection error: self-signed certificate in certificate chain', 'TLS verification failed'],
    ["Hostname/IP does not match certificate's altnames: IP: 10.0.0.1 is not in the cert's list", 'TLS verification failed'],
    ['Connection error: unable to verify the first certificate', 'TLS verification failed'],
    ['write EPROTO 40E7...:error:0A00010B:SSL routines:ssl3_get_record:wrong version number', 'TLS handshake failed'],
  ])('names %j as %j', (text, cause) => {
    expect(kafkaFailureCause(text)).toBe(cause);
  });

  it('reads the cause chain of an error, and leaves ordinary outages alone', () => {
    expect(kafkaFailureCause(new Error('Connection error', { cause: Object.assign(new Error('x'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }) }))).toBe(
      'TLS verification failed',
    );
    expect(kafkaFailureCause(new Error('connect ECONNREFUSED 127.0.0.1:9092'))).toBeUndefined();
    // @platformatic/kafka's shape, as it reports a refused SCRAM login and an unknown CA.
    const platformatic = (leaf: Error) =>
      new AggregateError(
        [new AggregateError([new Error('Connection to 127.0.0.1:9192 failed.', { cause: leaf })], 'Cannot connect to any broker.')],
        'Listing topics failed.',
      );
    expect(kafkaFailureCause(platformatic(Object.assign(new Error('SASL authentication failed.'), { code: 'PLT_KFK_AUTHENTICATION' })))).toBe(
      'authentication failed',
    );
    expect(
      kafkaFailureCause(platformatic(Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }))),
    ).toBe('TLS verification failed');
    expect(kafkaFailureCause('This server does not host this topic-partition')).toBeUndefined();
  });
});

describe('KafkaConnectionProblem', () => {
  it('reports each distinct cause once until Kafka answers again', () => {
    const problem = new KafkaConnectionProblem();
    expect(problem.report({ cause: 'authentication failed', detail: 'a' })).toBe(true);
    expect(problem.report({ cause: 'authentication failed', detail: 'b' })).toBe(false);
    expect(problem.report({ cause: 'TLS verification failed', detail: 'c' })).toBe(true);
    expect(problem.current?.cause).toBe('TLS verification failed');
    // A cause coming back is not logged again: retries may alternate between symptoms.
    expect(problem.report({ cause: 'authentication failed', detail: 'a' })).toBe(false);
    expect(problem.current?.cause).toBe('authentication failed');
    expect(problem.clear()).toBe(true);
    expect(problem.clear()).toBe(false);
    expect(problem.report({ cause: 'authentication failed', detail: 'a' })).toBe(true);
  });
});
