import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface DelayProxyOptions {
  /** The sidecar's URL (`http://host:port`). */
  target: string;
  /** How long the answers of a delayed request are held. */
  delayMs: number;
  /** How many POST requests, counted from the first, get their answers delayed. @defaultValue 1 */
  delayPosts?: number;
}

/**
 * A TCP proxy between the SDK and a sidecar that holds the answer to the first POST(s) for `delayMs`, so the
 * sidecar has done its work while the client sees nothing until past its deadline. It sees HTTP only enough
 * to count requests: a client chunk starting with a method is a new request (bodies are JSON objects).
 */
export class DelayProxy {
  readonly #options: Required<DelayProxyOptions>;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Requests seen, by method, in arrival order. */
  readonly requests: string[] = [];
  url = '';

  constructor(options: DelayProxyOptions) {
    this.#options = { delayPosts: 1, ...options };
    this.#server = createServer((client) => this.#pipe(client));
  }

  get posts(): number {
    return this.requests.filter((r) => r === 'POST').length;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #pipe(client: Socket): void {
    const target = new URL(this.#options.target);
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    this.#sockets.add(client).add(upstream);
    let delayed = false;
    client.on('data', (chunk: Buffer) => {
      const method = /^(GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH) /.exec(chunk.toString('latin1', 0, 8))?.[1];
      if (method) {
        this.requests.push(method);
        if (method === 'POST' && this.posts <= this.#options.delayPosts) delayed = true;
      }
      upstream.write(chunk);
    });
    // Once a connection carries a delayed request, all its later answers are held too: order is kept.
    upstream.on('data', (chunk: Buffer) => {
      if (!delayed) client.write(chunk);
      else setTimeout(() => client.writable && client.write(chunk), this.#options.delayMs).unref();
    });
    const closeBoth = (): void => {
      if (delayed) setTimeout(() => client.destroy(), this.#options.delayMs).unref();
      else client.destroy();
      upstream.destroy();
    };
    upstream.on('end', closeBoth);
    upstream.on('error', closeBoth);
    client.on('close', () => upstream.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => this.#sockets.delete(client));
    upstream.on('close', () => this.#sockets.delete(upstream));
  }
}
