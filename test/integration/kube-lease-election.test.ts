// Leader election through a real coordination.k8s.io Lease on a real kube-apiserver: the contract
// (one leader at a time, hand-over on release, take-over on expiry), the Lease as kubectl shows it,
// and a leader cut off from the API server (kube-apiserver killed) stepping down within its renew
// deadline, then elected again when the server is back. Skipped, saying why, without the kube peers.
import { CoordinationV1Api } from '@kubernetes/client-node';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { KubeLeaseElection } from '../../src/adapters/kubernetes/kube-lease-election.js';
import type { Logger } from '../../src/ports/logger.js';
import { leaderElectionContract } from '../contract/leader-election.contract.js';
import { kubeAvailable, startKube, type KubeControlPlane } from '../support/kube.js';
import { createNamespace, waitFor } from '../support/kube-objects.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const NS = 'amesh-system';
// Short, so that expiry takes seconds; a renew deadline with room for a slow API server on a busy machine.
const TIMING = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 400 };

const available = kubeAvailable();
if (!available.apiserver || !available.etcd) {
  console.log(`kube-lease-election: skipped: ${available.reason ?? ''}`);
} else {
  let kube: KubeControlPlane | undefined;
  let leases = 0;
  const control = suite('kube-apiserver for the Lease suites');
  control('starts', async () => {
    kube = await startKube();
    await createNamespace(kube.kubeConfig(), NS);
  });
  control.run();

  leaderElectionContract('Kubernetes Lease', async () => {
    const name = `contract-${++leases}`;
    return {
      candidate: (identity) => new KubeLeaseElection({ kubeConfig: kube!.kubeConfig(), namespace: NS, name, identity, timing: TIMING, logger: quiet }),
      // Real time: the contract waits up to patienceMs, longer than the lease.
      expire: async () => undefined,
      cleanup: async () => undefined,
      patienceMs: 20_000,
    };
  });

  const s = suite('KubeLeaseElection on a real kube-apiserver');

  s('the Lease carries the holder, duration, micro-second times and transitions, as client-go writes them', async () => {
    const election = new KubeLeaseElection({ kubeConfig: kube!.kubeConfig(), namespace: NS, name: 'shape', identity: 'ctl-a', timing: TIMING, logger: quiet });
    let elected = false;
    await election.start({ elected: () => (elected = true), deposed: () => undefined });
    try {
      await waitFor('elected', () => elected, 20_000);
      const lease = await kube!.kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'shape', namespace: NS });
      assert.is(lease.spec?.holderIdentity, 'ctl-a');
      assert.is(lease.spec?.leaseDurationSeconds, 3);
      assert.is(lease.spec?.leaseTransitions, 0);
      assert.match(String(lease.spec?.renewTime instanceof Date ? lease.spec.renewTime.toISOString() : lease.spec?.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    } finally {
      await election.stop();
    }
    const after = await kube!.kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'shape', namespace: NS });
    assert.is(after.spec?.holderIdentity, '', 'released on stop');
  });

  s('a leader cut off from the API server steps down within its renew deadline, and is elected again when it is back', async () => {
    const happened: string[] = [];
    const election = new KubeLeaseElection({ kubeConfig: kube!.kubeConfig(), namespace: NS, name: 'cut-off', identity: 'ctl-a', timing: TIMING, logger: quiet });
    await election.start({ elected: (term) => happened.push(`elected after ${term.previousHolder ?? 'nobody'}`), deposed: (reason) => happened.push(`deposed: ${reason}`) });
    try {
      await waitFor('elected', () => happened.length === 1, 20_000);
      await kube!.killApiServer();
      await waitFor('deposed', () => happened.length === 2, 30_000);
      assert.match(happened[1]!, /^deposed: the lease was not renewed within 2000 ms/);
      await kube!.startApiServer();
      await waitFor('elected again', () => happened.length === 3, 60_000);
      // Its own lease, not expired: renewed, and the term says who held it (itself) and until when.
      assert.is(happened[2], 'elected after ctl-a');
    } finally {
      await election.stop();
    }
  });

  s.after(async () => {
    await kube?.stop();
  });

  s.run();
}
