import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kafkaSecurity, kafkajsSecurity, platformaticSecurity, rejectOauthbearerErrorChallenge } from '../../src/kafka/kafka-security.ts';
import { tempDir } from '../support/temp-dir.ts';

const tokenFile = join(tempDir('oauthbearer-unit-'), 'token');
const security = () =>
  kafkaSecurity({ kafkaTls: true, kafkaTlsInsecureSkipVerify: false, kafkaSaslMechanism: 'oauthbearer', kafkaSaslOauthbearerTokenFile: tokenFile });

describe('OAUTHBEARER security', () => {
  it('reads the token file at every call, without the newline an agent leaves', () => {
    writeFileSync(tokenFile, 'first.token.\n');
    const sasl = platformaticSecurity({ security: security(), brokers: [] }).sasl;
    if (sasl?.mechanism !== 'OAUTHBEARER') throw new Error(`expected OAUTHBEARER, got ${sasl?.mechanism}`);
    expect(sasl.token()).toBe('first.token.');
    writeFileSync(tokenFile, 'refreshed.token.\r\n');
    expect(sasl.token()).toBe('refreshed.token.');
  });

  it("takes the broker's empty answer as success and its error challenge as a refusal", () => {
    const outcomes: (string | null)[] = [];
    const record = (error: Error | null) => outcomes.push(error === null ? null : error.message);
    rejectOauthbearerErrorChallenge(Buffer.alloc(0), record);
    rejectOauthbearerErrorChallenge(Buffer.from('{"status":"invalid_token"}'), record);
    expect(outcomes).toEqual([null, 'the broker rejected the OAUTHBEARER token: {"status":"invalid_token"}']);
  });

  it('is never mapped for kafkajs, which cannot report a refused token', () => {
    expect(() => kafkajsSecurity(security())).toThrow('OAUTHBEARER is not available on kafkajs');
  });
});

describe('TLS server name on @platformatic/kafka', () => {
  const tls = kafkaSecurity({ kafkaTls: true, kafkaTlsInsecureSkipVerify: false });
  const named = kafkaSecurity({ kafkaTls: true, kafkaTlsInsecureSkipVerify: false, kafkaTlsServername: 'kafka.internal' });

  it("sends each broker's host name (SNI), as kafkajs does, when the brokers are named by host", () => {
    expect(platformaticSecurity({ security: tls, brokers: ['b-1.kafka.example.com:9094', 'b-2.kafka.example.com:9094'] }).tlsServerName).toBe(true);
  });

  it('sends none for brokers given as IP addresses, and the one KAFKA_TLS_SERVERNAME names whatever the brokers', () => {
    expect(platformaticSecurity({ security: tls, brokers: ['127.0.0.1:9094', '[::1]:9094'] })).not.toHaveProperty('tlsServerName');
    expect(platformaticSecurity({ security: named, brokers: ['10.0.0.7:9094'] }).tlsServerName).toBe('kafka.internal');
    expect(platformaticSecurity({ security: kafkaSecurity({ kafkaTls: false, kafkaTlsInsecureSkipVerify: false }), brokers: ['kafka:9092'] })).toEqual({});
  });
});
