// What every LeaderElection owes the controller: a lone candidate is elected; of several, exactly
// one leads at any time; a leader that stops hands over at once (release), one that crashes only
// once its lease expires; the new term says who led before and until when it may have acted (what
// keeps plugin set versions going forward across a failover); a stopped candidate is never elected.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { LeaderElection, LeadershipTerm } from '../../src/ports/leader-election.js';

export interface ElectionFixture {
  /** A candidate for this test's lease. */
  candidate(identity: string): LeaderElection;
  /** The lease of a holder that stopped without releasing runs out (memory: now; Kubernetes: time passes). */
  expire(): Promise<void>;
  cleanup(): Promise<void>;
  /** How long an election may take here (polling adapters need their retry period, and more on a loaded machine). */
  readonly patienceMs: number;
}

type Happening = { kind: 'elected'; term: LeadershipTerm } | { kind: 'deposed'; reason: string } | { kind: 'observed'; holder: string | undefined };

interface Ctx {
  f: ElectionFixture;
  /** Candidates acting as leader right now (elected, not yet deposed or stopped). */
  leading: Set<string>;
  /** Set when two candidates were ever leading at once. */
  overlap: string | undefined;
  log: Map<string, Happening[]>;
  started: LeaderElection[];
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Lets anything in flight happen before asserting that something did NOT. */
const settle = (ms = 300): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function start(ctx: Ctx, identity: string): Promise<LeaderElection> {
  const election = ctx.f.candidate(identity);
  const log: Happening[] = [];
  ctx.log.set(identity, log);
  await election.start({
    elected: (term) => {
      log.push({ kind: 'elected', term });
      if (ctx.leading.size > 0) ctx.overlap = `${identity} elected while ${[...ctx.leading].join(', ')} led`;
      ctx.leading.add(identity);
    },
    deposed: (reason) => {
      log.push({ kind: 'deposed', reason });
      ctx.leading.delete(identity);
    },
    leaderObserved: (holder) => log.push({ kind: 'observed', holder }),
  });
  ctx.started.push(election);
  return election;
}

async function stop(ctx: Ctx, election: LeaderElection, release = true): Promise<void> {
  ctx.leading.delete(election.identity);
  await election.stop({ release });
  ctx.started.splice(ctx.started.indexOf(election), 1);
}

const terms = (ctx: Ctx, identity: string): LeadershipTerm[] => (ctx.log.get(identity) ?? []).flatMap((h) => (h.kind === 'elected' ? [h.term] : []));

export function leaderElectionContract(name: string, setup: () => Promise<ElectionFixture>): void {
  const s = suite<Ctx>(`LeaderElection contract: ${name}`);
  s.before.each(async (ctx) => {
    ctx.f = await setup();
    ctx.leading = new Set();
    ctx.overlap = undefined;
    ctx.log = new Map();
    ctx.started = [];
  });
  s.after.each(async (ctx) => {
    for (const election of [...ctx.started]) await stop(ctx, election);
    await ctx.f.cleanup();
    assert.is(ctx.overlap, undefined, ctx.overlap);
  });

  s('a lone candidate is elected; nobody held the lease before', async (ctx) => {
    await start(ctx, 'a');
    await until('a elected', () => ctx.leading.has('a'), ctx.f.patienceMs);
    assert.equal(terms(ctx, 'a'), [{ identity: 'a', previousHolder: undefined, previousUntilMs: undefined }]);
  });

  s('of two candidates one leads and the other sees it; a leader that stops hands over at once', async (ctx) => {
    const wallBefore = Date.now();
    const a = await start(ctx, 'a');
    await until('a elected', () => ctx.leading.has('a'), ctx.f.patienceMs);
    await start(ctx, 'b');
    await until('b to see a lead', () => ctx.log.get('b')!.some((h) => h.kind === 'observed' && h.holder === 'a'), ctx.f.patienceMs);
    await settle();
    assert.equal(terms(ctx, 'b'), [], 'b elected while a leads');
    await stop(ctx, a);
    await until('b elected', () => ctx.leading.has('b'), ctx.f.patienceMs);
    const [term] = terms(ctx, 'b');
    assert.is(term!.identity, 'b');
    assert.ok(term!.previousUntilMs !== undefined && term!.previousUntilMs >= wallBefore, `previousUntilMs ${term!.previousUntilMs} says nothing about a's term`);
  });

  s('a leader that crashes (no release) is replaced once its lease expires; the new term names it', async (ctx) => {
    const a = await start(ctx, 'a');
    await until('a elected', () => ctx.leading.has('a'), ctx.f.patienceMs);
    await start(ctx, 'b');
    await until('b to see a lead', () => ctx.log.get('b')!.some((h) => h.kind === 'observed' && h.holder === 'a'), ctx.f.patienceMs);
    const crashedAt = Date.now();
    await stop(ctx, a, false);
    await settle();
    assert.equal(terms(ctx, 'b'), [], 'b took over a lease that had not expired');
    await ctx.f.expire();
    await until('b elected', () => ctx.leading.has('b'), ctx.f.patienceMs);
    const [term] = terms(ctx, 'b');
    assert.is(term!.previousHolder, 'a');
    assert.ok(term!.previousUntilMs !== undefined && term!.previousUntilMs >= crashedAt - 60_000, `previousUntilMs ${term!.previousUntilMs}`);
  });

  s('a stopped candidate is never elected', async (ctx) => {
    const a = await start(ctx, 'a');
    await until('a elected', () => ctx.leading.has('a'), ctx.f.patienceMs);
    const b = await start(ctx, 'b');
    await stop(ctx, b);
    await stop(ctx, a);
    await settle();
    assert.equal(terms(ctx, 'b'), []);
    assert.is(ctx.leading.size, 0);
  });

  s.run();
}
