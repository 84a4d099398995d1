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
    const sasl = platformaticSecurity(security()).sasl;
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
