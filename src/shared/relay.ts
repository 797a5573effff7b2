import net from 'node:net';

export interface Relay {
  /** Where it listens (the port, when it was asked for port 0). */
  readonly address: net.AddressInfo | string;
  /** Stops listening and cuts every connection it carries. */
  close(): Promise<void>;
}

/**
 * Listens at `listen` (a TCP address or a unix socket) and joins each connection to a new one to
 * `target`, both ways, passing half-closes on (HTTP and git work through it unchanged). An error
 * or a close on either side ends both; a target that does not answer closes the client at once.
 * The listener does not keep the process alive; its connections do, until `close()`.
 */
export async function startRelay(listen: net.ListenOptions, target: net.NetConnectOpts): Promise<Relay> {
  const open = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ ...target, allowHalfOpen: true });
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('error', cut);
      socket.on('close', () => {
        open.delete(socket);
        cut();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  return {
    address: server.address()!,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
