// The project's original-destination Lua (native/lua/amesh/original_dst.lua) as the tests load it:
// the nginx lines docs/original-destination.md gives for APISIX, and where Debian's nginx and its Lua
// modules are. Kept here once so that the docs' snippet and what the tests run cannot drift apart.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const NGINX = '/usr/sbin/nginx';
export const DEBIAN_MODULES = '/usr/lib/nginx/modules';

/**
 * What goes into APISIX's `nginx_config.http_server_configuration_snippet`: server-level `set`s run
 * in nginx's server-rewrite phase, before APISIX's router (access phase).
 */
export const HTTP_SERVER_SNIPPET = `set $amesh_original_dst_addr '';
set_by_lua_block $amesh_original_dst_port { return require("amesh.original_dst").http_variables() }
`;

/** The stream Lua module built for Debian's nginx (../shared/notes/platform.md); AMESH_STREAM_LUA_MODULE overrides. */
export function streamLuaModule(): string {
  return process.env.AMESH_STREAM_LUA_MODULE ?? join(homedir(), '.cache', 'amesh-ts', 'nginx-debian', 'modules', 'ngx_stream_lua_module.so');
}

/** Why Debian's nginx with its http Lua module cannot run here, or undefined when it can. */
export function debianNginxUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (nginx workers must switch to nobody)';
  if (!existsSync(NGINX)) return `${NGINX} missing (apt-get install nginx libnginx-mod-http-lua lua-resty-core lua-resty-lrucache)`;
  if (!existsSync(join(DEBIAN_MODULES, 'ngx_http_lua_module.so'))) return 'libnginx-mod-http-lua missing';
  if (!existsSync('/usr/share/lua/5.1/resty/core.lua')) return 'lua-resty-core missing';
  return undefined;
}

/** Why the stream half cannot run here (Debian packages no stream Lua module), or undefined. */
export function streamLuaUnavailable(): string | undefined {
  if (!existsSync(join(DEBIAN_MODULES, 'ngx_stream_module.so'))) return 'libnginx-mod-stream missing';
  const module = streamLuaModule();
  if (!existsSync(module)) return `${module} missing (build it as ../shared/notes/platform.md "Stream (TCP) Lua on Debian's nginx" says; AMESH_STREAM_LUA_MODULE)`;
  return undefined;
}
