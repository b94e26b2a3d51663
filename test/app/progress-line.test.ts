// The progress line of a long `amesh translate` (issue 12: a 200 MB config dump ran for 41 s with no
// output at all): silent for the first second, then one line rewritten in place at most every 100 ms,
// cleared before the run's own output. Driven by a fake clock.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ProgressLine } from '../../src/app/progress.js';

const s = suite('ProgressLine');

function rig() {
  let now = 0;
  const written: string[] = [];
  const line = new ProgressLine(
    (text) => written.push(text),
    () => now,
  );
  return { line, written, at: (ms: number) => void (now = ms) };
}

s('nothing for the first second, then the stage with the elapsed seconds, rewritten in place', () => {
  const { line, written, at } = rig();
  at(500);
  line.update('parsing dump.json');
  assert.equal(written, []);
  at(1_200);
  line.update('converting resources: 1000');
  assert.equal(written, ['\r\u001b[Kamesh: converting resources: 1000 (1 s)']);
});

s('redrawn at most every 100 ms however often the stages report', () => {
  const { line, written, at } = rig();
  for (let ms = 1_000; ms < 1_300; ms += 10) {
    at(ms);
    line.update(`converting resources: ${ms}`);
  }
  assert.is(written.length, 3);
});

s('done() clears a drawn line and nothing else', () => {
  const quiet = rig();
  quiet.line.done();
  assert.equal(quiet.written, [], 'a short run leaves no trace');
  const { line, written, at } = rig();
  at(2_000);
  line.update('writing');
  line.done();
  assert.equal(written.at(-1), '\r\u001b[K');
});

s('a long stage name is cut so that the line never wraps', () => {
  const { line, written, at } = rig();
  at(1_000);
  line.update(`reading /${'d/'.repeat(200)}dump.json`);
  assert.ok(written[0]!.length <= 104, `${written[0]!.length} characters`);
});

s.run();
