// A sink that prints the standalone document to a stream (stdout when `translate` has no -o): the file
// sink's rendering without the file.
import type { ApplyResult, ConfigSink, SinkUpdate } from '../../ports/config-sink.js';
import { renderStandalone, type StandaloneFormat } from '../apisix/standalone-document.js';

export class StreamConfigSink implements ConfigSink {
  readonly target = 'stdout';

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly format: StandaloneFormat,
  ) {}

  async apply(update: SinkUpdate): Promise<ApplyResult> {
    const text = renderStandalone(update.desired, this.format);
    // A reader that went away (`| head`: EPIPE) is a failed write, told as such, not an exception.
    const error = await new Promise<Error | null | undefined>((resolve) => this.stream.write(text, resolve));
    if (error) return { applied: 0, failed: [{ key: '*', reason: `writing ${this.target}: ${error.message}` }] };
    return { applied: update.changes.changes.length, failed: [] };
  }
}
