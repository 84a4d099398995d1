import { isIP, connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Kafka, logLevel as kafkaLogLevel, type ISocketFactory, type KafkaConfig } from 'kafkajs';
import type { Logger } from '../logging/logger.ts';
import type { KafkaConnection } from './kafka-connection.ts';
import { logRefusal, reportRefusal, type KafkaConnectionProblem } from './connection-problem.ts';
import { kafkajsSecurity } from './kafka-security.ts';
import { registerKafkajsCodecs } from './kafkajs-codecs.ts';
import { stopKafkajsIdleChecks } from './kafkajs-request-queue.ts';

/** kafkajs's words for a connection ending or failing, whatever the reason. */
const CONNECTION_NOISE = /Closed connection|Connection error|Connection timeout|Failed to connect/i;

/**
 * kafkajs's own words for a refused login, the one place a cause is read from text: kafkajs hands its
 * logger strings only, and the typed KafkaJSSASLAuthenticationError reaches our code only after every retry,
 * each logged first. The broker's error response to the SASL request is logged before the authenticator's line.
 */
const KAFKAJS_REFUSED_LOGIN = /^(SASL [\w -]+? (authentication failed|mechanism is not supported)|Response Sasl(Handshake|Authenticate)\()/;

/** The line kafkajs writes for a broker's error answer to one request: `Response <Api>(key: <n>, version: <n>)`. */
const RESPONSE_LINE = /^Response \w+\(key: \d+, version: \d+\)$/;

/** Warnings about choices made on purpose: bounded retries are paired with producer replacement. */
const EXPECTED_KAFKAJS_WARNINGS = ['Limiting retries for the idempotent producer'];

/**
 * kafkajs logs through ours, at warn and above, so broker trouble shows up in the same JSON stream. Failures
 * an operator must fix (credentials, certificates) are logged once per cause, not at every retry.
 */
export function kafkaLogCreator(log: Logger, problem: KafkaConnectionProblem) {
  return () =>
    ({ level, log: entry }: { level: number; log: { message: string } & Record<string, unknown> }) => {
      const { message, timestamp: _t, logger: _l, stack: _s, ...fields } = entry;
      if (EXPECTED_KAFKAJS_WARNINGS.some((w) => message.startsWith(w))) return;
      const detail = fields.error === undefined ? message : `${message}: ${String(fields.error)}`;
      if (level <= kafkaLogLevel.WARN && KAFKAJS_REFUSED_LOGIN.test(message)) {
        logRefusal(problem, { cause: 'authentication failed', detail }, log, { broker: fields.broker });
        return;
      }
      // The connection a refused login leaves behind is closed and retried: part of the failure just logged.
      if (problem.current && CONNECTION_NOISE.test(detail)) {
        log.debug(`kafkajs: ${message}`, fields);
        return;
      }
      // A client naming a topic that does not exist is a 404 for that client, not a broker problem; a refused
      // CreateTopics (the topic exists already: another replica made it) is its caller's to report.
      if (String(fields.error ?? '').includes('does not host this topic-partition') || message.startsWith('Response CreateTopics')) {
        log.debug(`kafkajs: ${message}`, fields);
        return;
      }
      // kafkajs writes every error answer to a request at error level ("Response GroupCoordinator(key: 10, version: 2)"),
      // then retries it (a coordinator not elected yet on a new cluster, a leader moving) or hands it to its caller,
      // whose own line says how it ended: one answer is a warning.
      if (level <= kafkaLogLevel.ERROR && RESPONSE_LINE.test(message)) {
        log.warn(`kafkajs: ${message}`, fields);
        return;
      }
      if (level <= kafkaLogLevel.ERROR) log.error(`kafkajs: ${message}`, fields);
      else if (level === kafkaLogLevel.WARN) log.warn(`kafkajs: ${message}`, fields);
    };
}

/** How often kafkajs's own socket factory has TCP probe an idle connection. */
const KEEP_ALIVE_DELAY_MS = 60_000;

/**
 * kafkajs's default socket factory (which it does not export), plus a first 'error' listener: Node's TLS error, with its `code`, is seen here
 * before kafkajs turns it into a log line of text. A refusal is then recorded before kafkajs logs it, and
 * its lines are the connection noise of a known problem.
 */
function refusalReportingSockets(log: Logger, problem: KafkaConnectionProblem): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    const socket = ssl ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl }, onConnect) : netConnect({ host, port }, onConnect);
    socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS);
    socket.once('error', (err) => reportRefusal(problem, err, log, { broker: `${host}:${port}` }));
    return socket;
  };
}

/**
 * A kafkajs client for the connection, logging through ours. The kafkajs producer engine and the consumer
 * (which stays on kafkajs for its rebalance semantics, docs/consumption.md) both start here, so a transport
 * setting of KafkaConnection is mapped for kafkajs in this one place.
 */
export function kafkajsClient(connection: KafkaConnection, log: Logger, tuning: Pick<KafkaConfig, 'retry' | 'requestTimeout'> = {}): Kafka {
  stopKafkajsIdleChecks();
  // Every kafkajs client may read batches others wrote compressed (the route log, a subscription's topic):
  // without the codecs, a snappy, lz4 or zstd batch crashes its consumer.
  registerKafkajsCodecs();
  return new Kafka({
    clientId: connection.clientId,
    brokers: connection.brokers,
    ...kafkajsSecurity(connection.security),
    logLevel: kafkaLogLevel.WARN,
    logCreator: kafkaLogCreator(log, connection.problem),
    socketFactory: refusalReportingSockets(log, connection.problem),
    ...tuning,
  });
}
