// Process entry point: the only place that touches process.argv and the exit code.
import 'reflect-metadata';
import { runCli } from './cli.js';

process.exitCode = await runCli(process.argv.slice(2));
