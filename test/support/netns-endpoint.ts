// Runs inside a test's network namespace (ip netns exec … [setpriv …] node --import tsx this-file):
//   serve <label> <port>...  listens on 0.0.0.0 and :: at each port; answers every connection with one
//                            JSON line {label, localPort, original} (original: SO_ORIGINAL_DST or null),
//                            prints "ready" once listening.
//   serve-http <label> <port>... the same over HTTP: every request is answered 200 with that JSON.
//   connect <host> <port>    prints the answer (or {"error": …}) and exits.
//   probe <json>             one process for many connections (each a tsx start-up less): the argument
//                            is [{host, port, http}], one after the other; prints a JSON array of the
//                            answers, each parsed from the JSON line the server sent ({"error": …}
//                            when none came). http: a GET / and the response body, else what the
//                            server writes unasked.
import http from 'node:http';
import net from 'node:net';
import { originalDestination } from '../../src/adapters/original-dst/original-destination.js';

const [mode, ...rest] = process.argv.slice(2);

function answer(label: string, socket: net.Socket): string {
  const original = originalDestination(socket);
  return `${JSON.stringify({ label, localPort: socket.localPort, original: original.ok ? original.value : null })}\n`;
}

async function listen(label: string, port: number, host: string, overHttp = false): Promise<void> {
  const server = overHttp
    ? http.createServer((request, response) => {
        response.setHeader('content-type', 'application/json');
        response.end(answer(label, request.socket));
      })
    : net.createServer((socket) => socket.end(answer(label, socket)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, ipv6Only: host === '::' }, resolve);
  });
}

if (mode === 'serve' || mode === 'serve-http') {
  const [label = 'server', ...ports] = rest;
  const overHttp = mode === 'serve-http';
  void Promise.all(ports.flatMap((p) => [listen(label, Number(p), '0.0.0.0', overHttp), listen(label, Number(p), '::', overHttp)])).then(
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
} else if (mode === 'probe') {
  const targets = JSON.parse(rest[0] ?? '[]') as { host: string; port: number; http?: boolean }[];
  const once = (target: { host: string; port: number; http?: boolean }): Promise<string> =>
    new Promise((resolve) => {
      const fail = (e: Error): void => resolve(JSON.stringify({ error: e.message }));
      if (target.http) {
        const request = http.get({ host: target.host, port: target.port, path: '/', agent: false, timeout: 5000 }, (response) => {
          let body = '';
          response.on('data', (d: Buffer) => (body += d.toString()));
          response.on('end', () => resolve(body));
          response.on('error', fail);
        });
        request.on('timeout', () => request.destroy(new Error('timeout')));
        request.on('error', fail);
        return;
      }
      const socket = net.connect({ host: target.host, port: target.port, timeout: 5000 });
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      socket.on('end', () => resolve(answer));
      socket.on('timeout', () => socket.destroy(new Error('timeout')));
      socket.on('error', fail);
    });
  void (async () => {
    const answers: unknown[] = [];
    for (const target of targets) {
      const text = (await once(target)).trim();
      try {
        answers.push(JSON.parse(text) as unknown);
      } catch {
        answers.push({ error: `not JSON: ${text.slice(0, 200)}` });
      }
    }
    process.stdout.write(`${JSON.stringify(answers)}\n`);
  })();
} else {
  process.stderr.write('usage: netns-endpoint serve|serve-http <label> <port>... | connect <host> <port> | probe <json>\n');
  process.exit(2);
}
