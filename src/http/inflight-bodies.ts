import type { IncomingMessage } from 'node:http';
import { SidecarError } from '../errors/sidecar-error.ts';
import { LogSpell } from '../logging/log-spell.ts';
import type { Logger } from '../logging/logger.ts';
import type { Middleware } from './request-chain.ts';

/** Ends a hold taken by `holdBody`; calling it again does nothing. */
export type BodyHoldEnd = () => void;

/** The reservation a request took at the gate: held while its socket is open or its handler holds the body. */
class Reservation {
  #holds = 0;
  #closed = false;
  #release: (() => void) | undefined;

  constructor(release: () => void) {
    this.#release = release;
  }

  hold(): BodyHoldEnd {
    this.#holds++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#holds--;
      this.#maybeRelease();
    };
  }

  closed(): void {
    this.#closed = true;
    this.#maybeRelease();
  }

  #maybeRelease(): void {
    if (!this.#closed || this.#holds > 0) return;
    this.#release?.();
    this.#release = undefined;
  }
}

const RESERVATIONS = new WeakMap<IncomingMessage, Reservation>();

/**
 * Keeps the request's reservation (inflightBodyGate) until the returned function is called, even when the
 * client went away before: its handler still holds the parsed body, so its bytes are still in memory. A
 * request that passed no gate gets a hold that does nothing.
 */
export function holdBody(req: IncomingMessage): BodyHoldEnd {
  return RESERVATIONS.get(req)?.hold() ?? noHold;
}

const noHold: BodyHoldEnd = () => undefined;

/**
 * Bounds the memory held by request bodies: each produce request reserves its declared size
 * (`content-length`; a body of unknown length may grow to `maxBodyBytes`) before its body is read, and
 * releases it when its response is done (or its connection closed) and its handler no longer holds the body
 * (`holdBody`), whichever is later: a client that goes away does not free the memory its request's handler
 * still holds. A body never handed to a handler is released when the connection closes. A request that would take the total past `maxBytes` gets a
 * retriable 503 OVERLOADED without its body being read. One request is always let in when none is in
 * flight, so a body up to MAX_BODY_BYTES can still pass with a smaller limit.
 *
 * A compressed body (content-encoding gzip, deflate, br) is refused with 415 unless `acceptEncoded`: its
 * content-length says nothing of what it inflates to. When accepted it reserves MAX_BODY_BYTES, the most
 * the parser inflates it to before refusing it.
 */
export function inflightBodyGate(maxBytes: number, maxBodyBytes: number, acceptEncoded: boolean, log: Logger): Middleware {
  let inflight = 0;
  const refusals = new LogSpell(
    log,
    'refusing produce requests: their bodies in flight reach MAX_INFLIGHT_BODY_BYTES',
    'accepting produce requests again: bodies in flight below MAX_INFLIGHT_BODY_BYTES',
    'refusedRequests',
  );
  return (req, res, next) => {
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    const encoded = encoding !== 'identity' && encoding !== '';
    if (encoded && !acceptEncoded) {
      const message = `body: content-encoding "${encoding}" is not accepted (ACCEPT_ENCODED_BODIES=false); send the body uncompressed`;
      next(new SidecarError('UNSUPPORTED_MEDIA_TYPE', message, { field: 'body' }));
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (!encoded && declared > maxBodyBytes) {
      // Refused before a byte of it is read (body-parser would read the whole upload off first), and the
      // connection closed after the answer: its unread bytes would otherwise have to be read off too.
      res.setHeader('Connection', 'close');
      next(
        new SidecarError('PAYLOAD_TOO_LARGE', `body: content-length ${declared} is over the limit of ${maxBodyBytes} bytes (MAX_BODY_BYTES)`, {
          field: 'body',
        }),
      );
      return;
    }
    const bytes = !encoded && Number.isSafeInteger(declared) && declared >= 0 ? declared : maxBodyBytes;
    if (inflight > 0 && inflight + bytes > maxBytes) {
      refusals.add({ inflight, maxBytes });
      const message = `request bodies in flight hold ${inflight} bytes (limit ${maxBytes}, MAX_INFLIGHT_BODY_BYTES); retry shortly`;
      next(new SidecarError('OVERLOADED', message, { retryAfterSeconds: 1, summarized: true }));
      return;
    }
    refusals.end();
    inflight += bytes;
    const reservation = new Reservation(() => {
      inflight -= bytes;
    });
    RESERVATIONS.set(req, reservation);
    res.once('close', () => reservation.closed());
    next();
  };
}
