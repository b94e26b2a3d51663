// The lease rules (pure): expiry is measured on the candidate's own clock from when it saw the record
// change, never from the holder's timestamps; holders renew, others wait exactly until expiry; a
// released lease is free at once; timing constraints are checked.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkLeaseTiming, decide, observe, released, renewOverdue, type LeaseRecord } from '../../../src/domain/leader/lease.js';

const TIMING = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
const held = (holder: string, renewMs: number): LeaseRecord => ({ holder, durationMs: 15_000, acquireMs: 0, renewMs, transitions: 3 });

const s = suite('leader lease rules');

s('no lease yet: acquire it, nobody before', () => {
  assert.equal(decide('me', undefined, 100, 5_000, TIMING), {
    kind: 'acquire',
    record: { holder: 'me', durationMs: 15_000, acquireMs: 5_000, renewMs: 5_000, transitions: 0 },
    previous: undefined,
  });
});

s('held by another: wait until it has been unchanged for its duration on OUR clock, whatever its timestamps say', () => {
  // The holder's clock is an hour ahead: irrelevant, only when we saw it change counts.
  const seen = observe(undefined, held('other', 3_600_000 + 1), 1_000);
  assert.equal(decide('me', seen, 10_000, 0, TIMING), { kind: 'wait', holder: 'other', untilMs: 16_000 });
  // Seen again unchanged: the observation keeps its first time.
  const again = observe(seen, held('other', 3_600_000 + 1), 12_000);
  assert.is(again.sinceMs, 1_000);
  const taken = decide('me', again, 16_000, 99_000, TIMING);
  assert.equal(taken, {
    kind: 'acquire',
    record: { holder: 'me', durationMs: 15_000, acquireMs: 99_000, renewMs: 99_000, transitions: 4 },
    previous: { holder: 'other', untilMs: 3_600_000 + 1 + 15_000 },
  });
  // A renewal restarts the wait.
  const renewed = observe(again, held('other', 3_600_000 + 2_001), 14_000);
  assert.equal(decide('me', renewed, 16_000, 0, TIMING), { kind: 'wait', holder: 'other', untilMs: 29_000 });
});

s('our own lease: renew it (keeping acquire time and transitions)', () => {
  const mine = observe(undefined, held('me', 1_000), 0);
  assert.equal(decide('me', mine, 5_000, 7_000, TIMING), { kind: 'renew', record: { holder: 'me', durationMs: 15_000, acquireMs: 0, renewMs: 7_000, transitions: 3 } });
});

s('a released lease is free at once; the previous term ends with the release', () => {
  const free = released(held('other', 1_000), 2_000);
  assert.equal(free, { holder: '', durationMs: 1000, acquireMs: 0, renewMs: 2_000, transitions: 3 });
  const decision = decide('me', observe(undefined, free, 50), 50, 9_000, TIMING);
  assert.equal(decision.kind === 'acquire' && decision.previous, { holder: '', untilMs: 3_000 });
});

s('durations are whole seconds, as a Lease stores them', () => {
  const decision = decide('me', undefined, 0, 0, { ...TIMING, leaseDurationMs: 4_500 });
  assert.is(decision.kind === 'acquire' && decision.record.durationMs, 5_000);
});

s('a leader steps down once a renewal is overdue; the timing rules are checked', () => {
  assert.is(renewOverdue(1_000, 10_999, TIMING), false);
  assert.is(renewOverdue(1_000, 11_000, TIMING), true);
  assert.equal(checkLeaseTiming(TIMING), { ok: true, value: TIMING });
  assert.equal(checkLeaseTiming({ ...TIMING, renewDeadlineMs: 15_000 }), { ok: false, error: 'the lease duration must be longer than the renew deadline' });
  assert.equal(checkLeaseTiming({ ...TIMING, retryPeriodMs: 10_000 }), { ok: false, error: 'the renew deadline must be longer than the retry period' });
});

s.run();
