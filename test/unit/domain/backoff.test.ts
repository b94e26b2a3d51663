// The one backoff every retry uses (xDS stream, SDS, sink applies).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Backoff, backoffDelay } from '../../../src/domain/backoff.js';

const options = { initialMs: 100, maxMs: 1000 };

test('the step doubles up to the cap; the delay is drawn from its upper half', () => {
  const at = (random: number) => [0, 1, 2, 3, 4, 5].map((attempt) => backoffDelay({ ...options, random: () => random }, attempt));
  assert.equal(at(1), [100, 200, 400, 800, 1000, 1000]);
  assert.equal(at(0), [50, 100, 200, 400, 500, 500]);
  assert.equal(at(0.5), [75, 150, 300, 600, 750, 750]);
});

test('a multiplier other than 2', () => {
  assert.equal(
    [0, 1, 2].map((attempt) => backoffDelay({ ...options, multiplier: 3, random: () => 1 }, attempt)),
    [100, 300, 900],
  );
});

test('Backoff counts the attempts until reset', () => {
  const backoff = new Backoff({ ...options, random: () => 1 });
  assert.equal(
    [1, 2, 3].map(() => backoff.next()),
    [100, 200, 400],
  );
  backoff.reset();
  assert.is(backoff.next(), 100);
});

test.run();
