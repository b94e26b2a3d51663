// The leader election contract for the in-memory adapter, plus what only it does: a candidate
// alone with its own lease (--leader-elect=false) is elected at start; an expired holder that is
// still running is deposed and queues up again.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryLease, MemoryLeaderElection } from '../../src/adapters/memory/memory-leader-election.js';
import { leaderElectionContract } from '../contract/leader-election.contract.js';

leaderElectionContract('memory', async () => {
  const lease = new MemoryLease();
  return { candidate: (identity) => new MemoryLeaderElection(identity, lease), expire: async () => lease.expire(), cleanup: async () => undefined, patienceMs: 1000 };
});

const s = suite('MemoryLeaderElection');

s('alone with a lease of its own, a candidate leads from the start', async () => {
  const sole = new MemoryLeaderElection('only');
  const happened: string[] = [];
  await sole.start({ elected: () => happened.push('elected'), deposed: () => happened.push('deposed') });
  assert.equal(happened, ['elected']);
  await sole.stop();
});

s('an expired leader that still runs is deposed, and waits behind the others', async () => {
  const lease = new MemoryLease(() => 1234);
  const happened: string[] = [];
  const track = (id: string) => ({ elected: () => happened.push(`${id} elected`), deposed: (why: string) => happened.push(`${id} deposed: ${why}`) });
  const a = new MemoryLeaderElection('a', lease);
  const b = new MemoryLeaderElection('b', lease);
  await a.start(track('a'));
  await b.start(track('b'));
  lease.expire();
  assert.equal(happened, ['a elected', 'a deposed: the lease expired', 'b elected']);
  await b.stop();
  assert.equal(happened.at(-1), 'a elected');
  assert.is(lease.holderIdentity, 'a');
  await a.stop();
  assert.is(lease.holderIdentity, '');
});

s.run();
