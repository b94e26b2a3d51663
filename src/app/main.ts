// Process entry point: the only place that touches process.argv and the exit code.
import 'reflect-metadata';
import { getEventListeners } from 'node:events';
import { constants as osConstants } from 'node:os';
import { debugRequested, EXIT, unexpectedErrorText } from './cli-io.js';
import { runCli } from './cli.js';

const argv = process.argv.slice(2);
// An exception thrown from a callback (a timer, a socket event) reaches no command: told in one line as
// runCli tells its own, instead of Node's dump of the stack and the throwing source line.
const fatal = (error: unknown): void => {
  process.stderr.write(unexpectedErrorText(error, debugRequested(argv, process.env)));
  process.exit(EXIT.internal);
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
// A closed stdout (`amesh translate … | head`) fails the write that hit it, which the command reports;
// the stream's own error event must not end the process as an unexpected failure on top.
process.stdout.on('error', () => undefined);

const shutdown = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    // A command that stops gracefully listens for the abort; the others (translate) end here, as they
    // would without a handler. A second signal finds no handler and ends the process.
    if (getEventListeners(shutdown.signal, 'abort').length === 0) process.exit(128 + osConstants.signals[signal]);
    shutdown.abort();
  });
}
process.exitCode = await runCli(argv, {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  signal: shutdown.signal,
  errIsTerminal: process.stderr.isTTY === true,
});
