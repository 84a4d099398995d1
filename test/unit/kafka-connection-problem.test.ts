import { createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { AuthenticationError, MultipleErrors, NetworkError, ProtocolError, ResponseError, UserError } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { KafkaConnectionProblem, kafkaFailureCause } from '../../src/kafka/connection-problem.ts';
import { kafkaLogCreator } from '../../src/kafka/kafkajs-client.ts';
import { OauthbearerTokenRejectedError, rejectOauthbearerErrorChallenge } from '../../src/kafka/kafka-security.ts';
import { createLogger } from '../../src/logging/logger.ts';

/** Node's TLS errors are plain Errors with a documented `code` (https://nodejs.org/api/tls.html#x509-certificate-error-codes). */
const nodeTlsError = (message: string, code: string) => Object.assign(new Error(message), { code });

/** @platformatic/kafka's shape for a failed request: an AggregateError per request and per broker around the connection's error. */
const platformatic = (leaf: Error) =>
  new MultipleErrors('Listing topics failed.', [
    new MultipleErrors('Cannot connect to any broker.', [new NetworkError('Connection to 127.0.0.1:9192 failed.', { cause: leaf })]),
  ]);

/** kafkajs's KafkaJSSASLAuthenticationError; its type declaration omits the message its constructor requires. */
const kafkajsSaslError = (message: string): Error => Reflect.construct(kafkajs.KafkaJSSASLAuthenticationError, [message]) as Error;

/** The error Node gives a TLS client whose peer answers in plain text (a real socket, not a copy). */
async function realWrongVersionError(): Promise<Error> {
  const server = createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<Error>((resolve) => tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: true }).once('error', resolve));
  } finally {
    server.close();
  }
}

describe('kafkaFailureCause', () => {
  it('names a refused login from the clients’ error classes and Kafka’s error names', () => {
    expect(kafkaFailureCause(kafkajsSaslError('SASL SCRAM SHA512 authentication failed: invalid credentials'))).toBe('authentication failed');
    const illegalState = new kafkajs.KafkaJSProtocolError(
      Object.assign(new Error('Request is not valid given the current SASL state'), { type: 'ILLEGAL_SASL_STATE', code: 34 }),
    );
    expect(kafkaFailureCause(illegalState)).toBe('authentication failed');
    expect(kafkaFailureCause(platformatic(new AuthenticationError('SASL authentication failed.')))).toBe('authentication failed');
    // A SaslAuthenticate answer the library did not wrap in its AuthenticationError still names the refusal.
    expect(kafkaFailureCause(platformatic(new ResponseError(36, 2, { '/': [58, 'invalid credentials'] }, undefined)))).toBe('authentication failed');
    expect(kafkaFailureCause(new ProtocolError('UNSUPPORTED_SASL_MECHANISM'))).toBe('authentication failed');
  });

  it('names the OAUTHBEARER error challenge our validator turns into an error, as the library wraps it', () => {
    const results: (Error | null)[] = [];
    rejectOauthbearerErrorChallenge(Buffer.from('{"status":"invalid_token"}'), (err) => results.push(err));
    const [rejected] = results;
    expect(results).toHaveLength(1);
    if (!(rejected instanceof OauthbearerTokenRejectedError)) throw new Error(`the validator passed an error challenge: ${String(rejected)}`);
    expect(kafkaFailureCause(rejected)).toBe('authentication failed');
    expect(kafkaFailureCause(platformatic(new AuthenticationError('SASL authentication failed.', { cause: rejected })))).toBe('authentication failed');
  });

  it.each([
    ['SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unable to get local issuer certificate'],
    ['CERT_HAS_EXPIRED', 'certificate has expired'],
    ['CERT_NOT_YET_VALID', 'certificate is not yet valid'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"],
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'tlsv1 alert unknown ca'],
  ])('names Node’s %s as a TLS verification failure, under either client’s wrapping', (code, message) => {
    expect(kafkaFailureCause(nodeTlsError(message, code))).toBe('TLS verification failed');
    expect(kafkaFailureCause(platformatic(nodeTlsError(message, code)))).toBe('TLS verification failed');
    const kafkajsWrapped = new kafkajs.KafkaJSNumberOfRetriesExceeded(
      new kafkajs.KafkaJSConnectionError(`Connection error: ${message}`, { broker: 'b:9093', code }),
      {
        retryCount: 5,
        retryTime: 1000,
      },
    );
    expect(kafkaFailureCause(kafkajsWrapped)).toBe('TLS verification failed');
  });

  it('names a real TLS handshake with a peer that does not speak TLS, and OpenSSL’s other failures', async () => {
    const real = await realWrongVersionError();
    expect(kafkaFailureCause(real), `${String((real as { code?: unknown }).code)}: ${real.message}`).toBe('TLS handshake failed');
    expect(kafkaFailureCause(nodeTlsError('write EPROTO ... packet length too long', 'EPROTO'))).toBe('TLS handshake failed');
    expect(kafkaFailureCause(nodeTlsError('sslv3 alert handshake failure', 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE'))).toBe('TLS handshake failed');
  });

  it('prefers a refused login when one failure names several causes', () => {
    const both = new MultipleErrors('Cannot connect to any broker.', [
      new NetworkError('Connection to a:9093 failed.', { cause: nodeTlsError('certificate has expired', 'CERT_HAS_EXPIRED') }),
      new NetworkError('Connection to b:9093 failed.', { cause: new AuthenticationError('SASL authentication failed.') }),
    ]);
    expect(kafkaFailureCause(both)).toBe('authentication failed');
  });

  it('leaves ordinary outages, other Kafka errors and text alone: causes come from types and codes', () => {
    expect(kafkaFailureCause(nodeTlsError('connect ECONNREFUSED 127.0.0.1:9092', 'ECONNREFUSED'))).toBeUndefined();
    expect(kafkaFailureCause(platformatic(new NetworkError('Connection closed')))).toBeUndefined();
    expect(kafkaFailureCause(platformatic(new UserError('Broker requires TLS.')))).toBeUndefined();
    expect(kafkaFailureCause(new ProtocolError('UNKNOWN_TOPIC_OR_PARTITION'))).toBeUndefined();
    expect(
      kafkaFailureCause(new kafkajs.KafkaJSConnectionError('Connection error: read ECONNRESET', { broker: 'b:9093', code: 'ECONNRESET' })),
    ).toBeUndefined();
    expect(kafkaFailureCause(new Error('SASL authentication failed: self-signed certificate'))).toBeUndefined();
    expect(kafkaFailureCause('SASL SCRAM SHA512 authentication failed')).toBeUndefined();
    expect(kafkaFailureCause(undefined)).toBeUndefined();
  });
});

describe('the kafkajs log, the one place a cause is read from text', () => {
  /** A kafkajs log creator over a logger whose lines are kept. */
  function kafkajsLog() {
    const lines: Record<string, unknown>[] = [];
    const problem = new KafkaConnectionProblem();
    const log = createLogger('debug', {}, (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    const write = kafkaLogCreator(log, problem)();
    const entry = (level: number, message: string, fields: Record<string, unknown> = {}) =>
      write({ level, log: { message, timestamp: 't', logger: 'kafkajs', ...fields } });
    return { lines, problem, entry };
  }

  it('logs a refused login once, from the lines kafkajs writes for it (captured from a broker refusing a wrong password)', () => {
    const { lines, problem, entry } = kafkajsLog();
    const ERROR = kafkajs.logLevel.ERROR;
    for (let attempt = 0; attempt < 3; attempt++) {
      entry(ERROR, 'Response SaslAuthenticate(key: 36, version: 1)', {
        broker: '127.0.0.1:9093',
        error: 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512',
      });
      entry(ERROR, 'SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials', {
        broker: '127.0.0.1:9093',
      });
      entry(ERROR, 'Closed connection', { broker: '127.0.0.1:9093' });
    }
    entry(ERROR, 'SASL PLAIN authentication failed: Authentication failed: Invalid username or password', { broker: '127.0.0.1:9093' });
    entry(ERROR, 'SASL SCRAM-SHA-512 mechanism is not supported by the server', { broker: '127.0.0.1:9093' });
    expect(problem.current?.cause).toBe('authentication failed');
    expect(lines.filter((l) => l.level === 'error')).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', cause: 'authentication failed', broker: '127.0.0.1:9093' });
  });

  it('logs a broker’s error answer to one request as a warning: kafkajs retries it or its caller reports the outcome', () => {
    const { lines, problem, entry } = kafkajsLog();
    // Captured from a consumer joining its group on a new broker, before the group coordinator was elected.
    entry(kafkajs.logLevel.ERROR, 'Response GroupCoordinator(key: 10, version: 2)', {
      broker: '127.0.0.1:9092',
      clientId: 'ordered-sidecar',
      error: 'The group coordinator is not available',
      correlationId: 2,
      size: 55,
    });
    entry(kafkajs.logLevel.ERROR, 'Crash: KafkaJSNumberOfRetriesExceeded: The group coordinator is not available', { groupId: 'g' });
    // The same words at debug (every answer, under KAFKAJS_LOG_LEVEL=debug) stay below the log.
    entry(kafkajs.logLevel.DEBUG, 'Response Produce(key: 0, version: 7)', { broker: '127.0.0.1:9092', correlationId: 3 });
    expect(problem.current).toBeUndefined();
    expect(lines).toMatchObject([
      { level: 'warn', msg: 'kafkajs: Response GroupCoordinator(key: 10, version: 2)', error: 'The group coordinator is not available' },
      { level: 'error', msg: 'kafkajs: Crash: KafkaJSNumberOfRetriesExceeded: The group coordinator is not available' },
    ]);
  });

  it('does not read a cause from any other line: a TLS failure is known from the socket’s error code instead', () => {
    const { lines, problem, entry } = kafkajsLog();
    entry(kafkajs.logLevel.ERROR, 'Connection error: self-signed certificate in certificate chain', { broker: '127.0.0.1:9093' });
    expect(problem.current).toBeUndefined();
    expect(lines).toMatchObject([{ level: 'error', msg: 'kafkajs: Connection error: self-signed certificate in certificate chain' }]);
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
