// The tests' stand-in for a Kubernetes Service in front of several replicas: a loopback TCP proxy
// that sends each new connection to the next backend, round robin, skipping backends that refuse
// it (as kube-proxy spreads connections over the ready endpoints; a dead pod's are gone). A
// connection no backend takes is closed.
import { createServer, Socket, type AddressInfo } from 'node:net';

export interface Balancer {
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  /** Connections handed to each backend so far, by backend address. */
  readonly handed: Map<string, number>;
  close(): Promise<void>;
}

export async function startBalancer(backends: readonly string[]): Promise<Balancer> {
  let next = 0;
  const handed = new Map<string, number>(backends.map((b) => [b, 0]));
  const open = new Set<Socket>();
  const server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    const attempt = (tries: number): void => {
      if (tries >= backends.length) return void client.destroy();
      const backend = backends[next++ % backends.length]!;
      const colon = backend.lastIndexOf(':');
      const upstream = new Socket();
      open.add(upstream);
      upstream.on('close', () => open.delete(upstream));
      // Before the connection is made only: the backend refused it, try the next.
      upstream.once('error', () => {
        upstream.destroy();
        attempt(tries + 1);
      });
      upstream.connect(Number(backend.slice(colon + 1)), backend.slice(0, colon), () => {
        handed.set(backend, (handed.get(backend) ?? 0) + 1);
        upstream.removeAllListeners('error');
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    handed,
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
