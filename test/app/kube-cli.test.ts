// `amesh controller` and `amesh injector` refuse bad flags with exit code 2 and a message naming the
// flag, before touching a cluster or a port.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT, runCli } from '../../src/app/cli.js';

async function run(argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await runCli(argv, { out: () => undefined, err: (t) => (err += t), env: {} });
  return { code, err };
}

const s = suite('amesh controller / injector flags');

s('controller: a bad duration or half a TLS pair is a usage error', async () => {
  assert.equal(await run(['controller', '--resync', 'often']), { code: EXIT.usage, err: 'error: --resync: "often" is not a duration (e.g. 500ms, 30s, 5m)\n' });
  assert.equal(await run(['controller', '--tls-cert-file', 'c.pem']), { code: EXIT.usage, err: 'error: --tls-cert-file and --tls-key-file go together\n' });
});

s('controller: a --plugin-schemas directory that is not there fails at startup, before any connection (flag or AMESH_PLUGIN_SCHEMAS)', async () => {
  assert.equal(await run(['controller', '--plugin-schemas', '/nonexistent/apisix-schemas']), {
    code: EXIT.input,
    err: 'error: --plugin-schemas: /nonexistent/apisix-schemas: not a directory\n',
  });
  let err = '';
  const code = await runCli(['controller'], { out: () => undefined, err: (t) => (err += t), env: { AMESH_PLUGIN_SCHEMAS: '/nonexistent/env-schemas' } });
  assert.equal({ code, err }, { code: EXIT.input, err: 'error: --plugin-schemas: /nonexistent/env-schemas: not a directory\n' });
});

s('injector: TLS and images are required', async () => {
  assert.equal(await run(['injector', '--image', 'a', '--pilot-agent-image', 'b']), {
    code: EXIT.usage,
    err: 'error: --tls-cert-file and --tls-key-file are required (the API server only calls webhooks over TLS)\n',
  });
  assert.equal(await run(['injector', '--tls-cert-file', 'c', '--tls-key-file', 'k', '--pilot-agent-image', 'b']), {
    code: EXIT.usage,
    err: 'error: --image is required (the image with APISIX and amesh)\n',
  });
});

s('sidecar: --plugins-from without the pod identity is a usage error', async () => {
  const r = await run(['sidecar', '--file', 'x.yaml', '--sink', 'memory', '--plugins-from', 'ctl:15810']);
  assert.equal(r, { code: EXIT.usage, err: 'error: --plugins-from needs the pod identity: POD_NAME and POD_NAMESPACE (downward API)\n' });
});

s.run();
