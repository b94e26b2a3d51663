// Process entry point: the only place that touches process.argv and the exit code.
import 'reflect-metadata';
import { runCli } from './cli.js';

const shutdown = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => shutdown.abort());
process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  signal: shutdown.signal,
});
