// Issue 12, item 3: APISIX substitutes variables in header values and fault-injection bodies
// (core.utils.resolve_var; proxy-rewrite first resolve_var_with_captures), which had
// `$http_authorization` copy a request's credentials into a response. A model of those two
// functions (APISIX 3.18 apisix/core/utils.lua, same patterns) checks that what the translation
// writes comes back as the literal text for any text; test/real-apisix checks it against APISIX.
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { literalForResolveVar, ngxTemplateLiteral } from '../../../src/adapters/apisix/nginx-literal.js';
import { fixedResponse, headerOperations, redirect } from '../../../src/adapters/apisix/render-plugins.js';
import { FidelityReport } from '../../../src/domain/fidelity.js';

const s = suite('literal text in APISIX plugin options');
const SEED = Number(process.env.LITERAL_SEED ?? 20261205);

/** ctx.var: every name a request could set or nginx knows resolves; the escape's own name is not set. */
const lookup = (name: string): string | undefined => (name === 'amesh_literal_dollar' ? undefined : `<${name}>`);

/** core.utils.resolve_var: `(?<!\\)\$(\{\s*([^}]+?)\s*\}|([\w\.]+))`, `name ?? default`, no rescan. */
function resolveVar(template: string): string {
  if (!template.includes('$')) return template;
  return template.replace(/(?<!\\)\$(\{\s*([^}]+?)\s*\}|([\w.]+))/g, (_m, _all, braced: string | undefined, bare: string | undefined) => {
    const segments = (braced ?? bare)!.split(/\s*\?\?\s*/);
    const value = lookup(segments[0]!);
    if (value !== undefined) return value;
    return segments.length === 1 ? '' : segments[1]!;
  });
}

/** core.utils.resolve_var_with_captures (proxy-rewrite header values, before resolve_var). */
const resolveCaptures = (template: string): string => template.replace(/(?<!\\)\$\{?(\d+)\}?/g, (_m, n: string) => `<capture ${n}>`);

const tricky = fc.string({ unit: fc.constantFrom('$', '{', '}', '\\', '?', '.', '_', ' ', '1', 'a', 'h', ':', '/'), maxLength: 24 });

s('the model leaks as APISIX did: the reason for the escape', () => {
  assert.is(resolveVar('Bearer $http_authorization'), 'Bearer <http_authorization>');
  assert.is(resolveVar('${ http_x ?? d}'), '<http_x>');
  assert.is(resolveVar('$$host'), '$<host>', '$$ is no escape');
  assert.is(resolveVar('\\$host'), '\\$host', 'a backslash stops it but stays');
});

s('literal text comes back unchanged from resolve_var, and from proxy-rewrite (captures, then variables)', () => {
  for (const text of ['$http_authorization', '${http_authorization}', '$1 ${2}', 'cost: $5.00', '$$x', '\\$x', 'a$', '$ {x}', '${a??b}', 'plain']) {
    assert.is(resolveVar(literalForResolveVar(text)), text, text);
    assert.is(resolveVar(resolveCaptures(literalForResolveVar(text))), text, text);
  }
  let runs = 0;
  fc.assert(
    fc.property(tricky, (text) => {
      runs += 1;
      return resolveVar(literalForResolveVar(text)) === text && resolveVar(resolveCaptures(literalForResolveVar(text))) === text;
    }),
    { numRuns: 5000, seed: SEED },
  );
  console.log(`literal text: ${runs} generated texts, seed ${SEED}`);
  assert.is(literalForResolveVar('no dollar'), 'no dollar');
});

s('headers of both plugins and the direct response body are written literally', () => {
  const ctx = { ref: { type: 'RouteConfiguration' as const, name: 'r' }, field: 'virtual_hosts[0].routes[0]', fidelity: new FidelityReport() };
  const mutations = {
    add: [
      { name: 'x-set', value: '$http_authorization', action: 'overwrite' as const },
      { name: 'x-added', value: 'Bearer ${cookie_session}', action: 'append' as const },
    ],
    remove: [],
  };
  const response = headerOperations(mutations, ctx, 'response')!;
  assert.is(resolveVar((response.set as Record<string, string>)['x-set']!), '$http_authorization');
  assert.is(resolveVar((response.add as string[])[0]!.slice('x-added: '.length)), 'Bearer ${cookie_session}');
  const request = headerOperations(mutations, ctx, 'request')!;
  assert.is(resolveVar(resolveCaptures((request.add as Record<string, string>)['x-added']!)), 'Bearer ${cookie_session}');
  const body = (fixedResponse(200, 'token=$http_authorization $1').abort as { body: string }).body;
  assert.is(resolveVar(body), 'token=$http_authorization $1');
});

s('a redirect location holding $ or \\ is not written to `uri` (no escape there) but as a regex_uri template', () => {
  const ctx = { ref: { type: 'RouteConfiguration' as const, name: 'r' }, field: 'virtual_hosts[0].routes[0]', fidelity: new FidelityReport() };
  const base = { kind: 'redirect' as const, scheme: undefined, port: undefined, responseCode: 302 as const, stripQuery: true };
  const literal = redirect({ ...base, host: undefined, path: { kind: 'path', value: '/pay/$http_authorization' } }, '/', ctx);
  assert.ok(literal.ok);
  assert.equal(literal.value, { ret_code: 302, regex_uri: ['^[\\s\\S]*', '/pay/$$http_authorization'] });
  assert.ok(ctx.fidelity.records.some((r) => r.reason.includes('"/pay/$http_authorization" holds "$"')));
  const host = redirect({ ...base, host: 'a$b.example', path: undefined }, '/', ctx);
  assert.ok(host.ok);
  assert.equal(host.value.regex_uri, ['^([\\s\\S]*)', '//a$$b.example$1']);
  const plain = redirect({ ...base, host: undefined, path: { kind: 'path', value: '/new' } }, '/', ctx);
  assert.ok(plain.ok);
  assert.is(plain.value.uri, '$scheme://$http_host/new', 'without $ or \\ the absolute form stays');
  assert.is(ngxTemplateLiteral('a$1$'), 'a$$1$$');
});

s.run();
