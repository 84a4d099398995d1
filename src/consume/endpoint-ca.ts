import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** An `endpoint_ca_file`: one or more PEM certificates, each parsed, so a wrong file fails at start and not at the first delivery. */
export function readCaBundle(file: string): Buffer {
  const pem = readFileSync(file);
  const certificates = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (certificates.length === 0) throw new Error('holds no PEM certificate');
  for (const certificate of certificates) new X509Certificate(certificate);
  return pem;
}
