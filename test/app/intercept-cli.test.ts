// `amesh intercept` through runCli with the in-memory interceptor: istio-init's own arguments and
// environment variables carry over, plan touches nothing, install/uninstall round-trip, and bad options
// are refused with the flag named before anything reaches the interceptor.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../src/app/cli.js';
import { MemoryTrafficInterceptor } from '../../src/adapters/memory/memory-traffic-interceptor.js';
import type { Logger } from '../../src/ports/logger.js';

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
/** The arguments Istio's injector gives istio-init (injection-template.yaml). */
const ISTIO_INIT = ['-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020'];

async function cli(args: readonly string[], interceptor: MemoryTrafficInterceptor, env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (t) => void (out += t), err: (t) => void (err += t), env }, { intercept: { interceptor, logger: quiet } });
  return { code, out, err };
}

const s = suite('amesh intercept');

s('plan prints IPv4 then IPv6 rules in iptables-save format and applies nothing', async () => {
  const memory = new MemoryTrafficInterceptor();
  const run = await cli(['intercept', 'plan', ...ISTIO_INIT, '--ipv6'], memory);
  assert.is(run.code, 0, run.err);
  assert.ok(run.out.startsWith('# IPv4\n*nat\n:ISTIO_INBOUND - [0:0]\n'), run.out);
  assert.ok(run.out.indexOf('-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN') < run.out.indexOf('# IPv6'));
  assert.ok(run.out.indexOf('# IPv6') < run.out.indexOf('-A ISTIO_OUTPUT -o lo -s ::6/128 -j RETURN'));
  for (const port of ['15090', '15021', '15020']) assert.match(run.out, `-A ISTIO_INBOUND -p tcp --dport ${port} -j RETURN`);
  assert.equal(memory.transactions, []);
  const dry = await cli(['intercept', 'install', ...ISTIO_INIT, '--dry-run'], memory);
  assert.is(dry.code, 0);
  assert.is(dry.out, (await cli(['intercept', 'plan', ...ISTIO_INIT], memory)).out, 'install --dry-run prints the plan');
  assert.equal(memory.transactions, []);
});

s('install, install again, verify, uninstall: the tables end as they began', async () => {
  const memory = new MemoryTrafficInterceptor({ initial: { ipv4: '*nat\n-A OUTPUT -d 192.0.2.1/32 -j RETURN\nCOMMIT\n' } });
  const before = memory.save('ipv4');
  assert.is((await cli(['intercept', 'install', ...ISTIO_INIT], memory)).code, 0);
  const once = memory.save('ipv4');
  assert.match(once, '-A OUTPUT -m comment --comment amesh-ts:ISTIO -j ISTIO_OUTPUT');
  assert.is((await cli(['intercept', 'install', ...ISTIO_INIT], memory)).code, 0);
  assert.is(memory.save('ipv4'), once);
  assert.is((await cli(['intercept', 'verify', ...ISTIO_INIT], memory)).code, 0);
  const other = await cli(['intercept', 'verify', ...ISTIO_INIT, '-d', '15090'], memory);
  assert.is(other.code, 1, 'other options are not what is in force');
  assert.match(other.err, 'error: verification: ipv4: nat ISTIO_INBOUND');
  assert.is((await cli(['intercept', 'uninstall', ...ISTIO_INIT], memory)).code, 0);
  assert.is(memory.save('ipv4'), before);
  assert.is((await cli(['intercept', 'verify', ...ISTIO_INIT], memory)).code, 1, 'nothing in force');
});

s('environment variables stand in for flags, as in istio-iptables', async () => {
  const memory = new MemoryTrafficInterceptor();
  const dir = await mkdtemp(join(tmpdir(), 'amesh-intercept-'));
  try {
    await writeFile(join(dir, 'resolv.conf'), 'search svc.cluster.local\nnameserver 10.96.0.10\nnameserver fd00::a\n');
    const env = {
      ISTIO_INBOUND_PORTS: '8080',
      ISTIO_SERVICE_CIDR: '10.0.0.0/8',
      ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE: '888',
      ISTIO_META_DNS_CAPTURE: 'true',
      PROXY_UID: '1500',
      AMESH_CHAIN_PREFIX: 'AMESH',
    };
    const run = await cli(['intercept', 'plan', '--resolv-conf', join(dir, 'resolv.conf'), '--dual-stack'], memory, env);
    assert.is(run.code, 0, run.err);
    for (const line of [
      '-A AMESH_INBOUND -p tcp --dport 8080 -j AMESH_IN_REDIRECT',
      '-A AMESH_OUTPUT -d 10.0.0.0/8 -j AMESH_REDIRECT',
      '-A AMESH_OUTPUT -m owner --gid-owner 888 -j RETURN',
      '-A AMESH_OUTPUT -m owner --uid-owner 1500 -j RETURN',
      '-A AMESH_OUTPUT_DNS -p udp --dport 53 -d 10.96.0.10/32 -j REDIRECT --to-port 15053',
      '-A AMESH_OUTPUT_DNS -p udp --dport 53 -d fd00::a/128 -j REDIRECT --to-port 15053',
    ])
      assert.match(run.out, line);
    const flagWins = await cli(['intercept', 'plan', '-b', '9090'], memory, env);
    assert.match(flagWins.out, '--dport 9090 -j AMESH_IN_REDIRECT');
    assert.not.match(flagWins.out, '--dport 8080');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

s('bad options are refused before anything is applied, naming the flag or variable', async () => {
  const cases: [string[], Record<string, string>, string][] = [
    [['-z', '70000'], {}, 'error: --inbound-capture-port: "70000" is not a port (1–65535)'],
    [['-p', '0'], {}, 'error: --envoy-port: "0" is not a port (1–65535)'],
    [['-i', '10.0.0.0/33'], {}, 'error: --istio-service-cidr: "10.0.0.0/33" has an invalid prefix length (0–32 for IPv4)'],
    [['-x', '2001:db8:::/32'], {}, 'error: --istio-service-exclude-cidr: "2001:db8:::/32" is not a CIDR prefix'],
    [[], { ISTIO_SERVICE_CIDR: 'everything' }, 'error: --istio-service-cidr (from ISTIO_SERVICE_CIDR): "everything" is not a CIDR prefix'],
    [['-q', '80,443', '-o', '443'], {}, 'error: --istio-local-outbound-ports-exclude: port 443 also listed as included'],
    [['-b', '8080', '-d', '8080'], {}, 'error: --istio-local-exclude-ports: port 8080 also listed as included'],
    [[], { ISTIO_OUTBOUND_OWNER_GROUPS: 'java', ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE: 'ftp' }, 'error: ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE: cannot be combined'],
    [['-m', 'TPROXIE'], {}, 'error: --istio-inbound-interception-mode: "TPROXIE" is not REDIRECT or TPROXY'],
    [['--iptables-backend', 'ebpf'], {}, 'error: --iptables-backend: "ebpf" is not nft, legacy or system'],
    [[], { REDIRECT_DNS: 'maybe' }, 'error: --redirect-dns (from REDIRECT_DNS): "maybe" is not true or false'],
  ];
  for (const [args, env, message] of cases) {
    const memory = new MemoryTrafficInterceptor();
    const run = await cli(['intercept', 'install', ...args], memory, env);
    assert.is(run.code, 2, `${args.join(' ')} → exit 2`);
    assert.ok(run.err.includes(message), `${args.join(' ')} ${JSON.stringify(env)}: ${run.err}`);
    assert.equal(memory.transactions, [], 'nothing applied');
  }
});

s('options that have no effect are warned about', async () => {
  const run = await cli(['intercept', 'plan', '-b', '8080', '-d', '9090'], new MemoryTrafficInterceptor());
  assert.is(run.code, 0);
  assert.match(run.err, 'warning: --istio-local-exclude-ports: has effect only when all inbound ports ("*") are captured');
});

s.run();
