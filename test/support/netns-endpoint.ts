// Runs inside a test's network namespace (ip netns exec … [setpriv …] node --import tsx this-file):
//   serve <label> <port>...  listens on 0.0.0.0 and :: at each port; answers every connection with one
//                            JSON line {label, localPort, original} (original: SO_ORIGINAL_DST or null),
//                            prints "ready" once listening.
//   connect <host> <port>    prints the answer (or {"error": …}) and exits.
import net from 'node:net';
import { originalDestination } from '../../src/adapters/original-dst/original-destination.js';

const [mode, ...rest] = process.argv.slice(2);

async function listen(label: string, port: number, host: string): Promise<void> {
  const server = net.createServer((socket) => {
    const original = originalDestination(socket);
    socket.end(`${JSON.stringify({ label, localPort: socket.localPort, original: original.ok ? original.value : null })}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, ipv6Only: host === '::' }, resolve);
  });
}

if (mode === 'serve') {
  const [label = 'server', ...ports] = rest;
  void Promise.all(ports.flatMap((p) => [listen(label, Number(p), '0.0.0.0'), listen(label, Number(p), '::')])).then(
    () => process.stdout.write('ready\n'),
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
} else if (mode === 'connect') {
  const [host = '', port = '0'] = rest;
  const socket = net.connect({ host, port: Number(port), timeout: 5000 });
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString()));
  socket.on('end', () => process.stdout.write(answer));
  socket.on('timeout', () => {
    process.stdout.write(`${JSON.stringify({ error: 'timeout' })}\n`);
    process.exit(0);
  });
  socket.on('error', (e) => process.stdout.write(`${JSON.stringify({ error: e.message })}\n`));
} else {
  process.stderr.write('usage: netns-endpoint serve <label> <port>... | connect <host> <port>\n');
  process.exit(2);
}
