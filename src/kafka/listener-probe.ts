import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Logger } from '../logging/logger.ts';
import { logRefusal, type KafkaConnectionProblem } from './connection-problem.ts';

/** How long one probe of one broker may take. */
const PROBE_TIMEOUT_MS = 2000;
/** A failing connection is probed at most this often. */
const PROBE_INTERVAL_MS = 30_000;
/** Bootstrap brokers probed per round; the first with a clear answer decides. */
const MAX_BROKERS = 3;
const CORRELATION_ID = 0x05ca1ab1;

/**
 * Whether `host:port` answers a Kafka ApiVersions request in plaintext. Any Kafka listener without TLS answers
 * it (with its versions, or with UNSUPPORTED_VERSION in the same framing), echoing the correlation id.
 */
export function speaksPlaintextKafka(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  const clientId = Buffer.from('ordered-sidecar-probe');
  // Request header v1 (api key, version, correlation id, client id); ApiVersions v0 has an empty body.
  const frame = Buffer.alloc(4 + 10 + clientId.length);
  frame.writeInt32BE(frame.length - 4, 0);
  frame.writeInt16BE(18, 4);
  frame.writeInt16BE(0, 6);
  frame.writeInt32BE(CORRELATION_ID, 8);
  frame.writeInt16BE(clientId.length, 12);
  clientId.copy(frame, 14);
  return answer(tcpConnect({ host, port }), timeoutMs, (socket, settle) => {
    let received = Buffer.alloc(0);
    socket.once('connect', () => socket.write(frame));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 8) settle(received.readInt32BE(4) === CORRELATION_ID);
    });
  });
}

/** Whether `host:port` completes a TLS handshake, or answers one with a TLS alert (a TLS listener that refuses us). */
export function speaksTls(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  const socket = tlsConnect({ host, port, rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) });
  return answer(socket, timeoutMs, (tls, settle) => {
    tls.once('secureConnect', () => settle(true));
    tls.once('error', (err: Error & { code?: string }) => settle(/^ERR_SSL_.*ALERT/.test(err.code ?? '')));
  });
}

/** Runs one probe on `socket`: false on timeout, close or error unless `listen` settled first; the socket is destroyed. */
function answer<S extends Socket>(socket: S, timeoutMs: number, listen: (socket: S, settle: (speaks: boolean) => void) => void): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (speaks: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(speaks);
    };
    const timer = setTimeout(() => settle(false), timeoutMs);
    listen(socket, settle);
    socket.on('error', () => settle(false));
    socket.on('close', () => settle(false));
  });
}

const hostAndPort = (broker: string): { host: string; port: number } => {
  const at = broker.lastIndexOf(':');
  return { host: broker.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(broker.slice(at + 1)) };
};

/**
 * Names a TLS mismatch when Kafka cannot be reached: the clients only say "Cannot connect to any broker" when
 * TLS meets a plaintext listener, or plaintext a TLS one. Asks the brokers directly whether they speak the
 * other way, and reports what it finds as a refusal (logged once, shown by /readyz).
 */
export class ListenerCheck {
  readonly #brokers: string[];
  readonly #tls: boolean;
  readonly #problem: KafkaConnectionProblem;
  readonly #log: Logger;
  #lastRun = -Infinity;

  constructor(brokers: string[], tls: boolean, problem: KafkaConnectionProblem, log: Logger) {
    this.#brokers = brokers.slice(0, MAX_BROKERS);
    this.#tls = tls;
    this.#problem = problem;
    this.#log = log;
  }

  /** Probes in the background, at most every 30 s, unless a cause is known already. */
  afterFailure(): void {
    const now = Date.now();
    if (this.#problem.current !== undefined || now - this.#lastRun < PROBE_INTERVAL_MS) return;
    this.#lastRun = now;
    void this.probe();
  }

  /** Probes the brokers now; resolves once done. */
  async probe(): Promise<void> {
    for (const broker of this.#brokers) {
      const { host, port } = hostAndPort(broker);
      if (this.#tls ? await speaksPlaintextKafka(host, port) : await speaksTls(host, port)) {
        const detail = this.#tls
          ? `${broker} answers Kafka requests without TLS while KAFKA_TLS is on: point KAFKA_BROKERS at the TLS listener, or turn TLS off`
          : `${broker} speaks TLS while the sidecar connects without it: set KAFKA_TLS=true (and KAFKA_TLS_CA_FILE), or point KAFKA_BROKERS at a plaintext listener`;
        logRefusal(this.#problem, { cause: this.#tls ? 'TLS to a plaintext listener' : 'plaintext to a TLS listener', detail }, this.#log, { broker });
        return;
      }
    }
  }
}
