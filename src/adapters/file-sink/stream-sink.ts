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
    await new Promise<void>((resolve, reject) => this.stream.write(text, (error) => (error ? reject(error) : resolve())));
    return { applied: update.changes.changes.length, failed: [] };
  }
}
