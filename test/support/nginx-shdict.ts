// A real Debian nginx + lua-nginx-module with APISIX's two xds shared dicts, loading libxds.so the
// way APISIX's config_xds.lua does (package.cpath walk, ffi.load, initial(zone, zone)) — in worker 0,
// since Debian's nginx has no privileged agent. Each instance runs in its own mkdtemp prefix on a
// free port; GET /dump returns the dicts (built into one string, printed once).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { defaultLibraryPath } from '../../src/adapters/shdict-sink/native-writer.js';
import { freePort } from './peers.js';

const NGINX = '/usr/sbin/nginx';
const MODULES = '/usr/lib/nginx/modules';
/** nginx's workers run as nobody:nogroup: the shm file and its directory must be theirs to use. */
export const NGINX_GID = 65534;
export const MARKER_KEY = 'amesh-xds-state';

/** Why the real-nginx suites cannot run here, or undefined when they can. */
export function nginxUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (nginx workers must switch to nobody)';
  if (!existsSync(NGINX)) return `${NGINX} missing (apt-get install nginx libnginx-mod-http-lua lua-resty-core lua-resty-lrucache)`;
  if (!existsSync(join(MODULES, 'ngx_http_lua_module.so'))) return 'libnginx-mod-http-lua missing';
  if (!existsSync('/usr/share/lua/5.1/resty/core.lua')) return 'lua-resty-core missing';
  if (!existsSync(defaultLibraryPath())) return `${defaultLibraryPath()} missing (npm run build:native)`;
  return undefined;
}

export interface DictDump {
  readonly version: string | undefined;
  /** Every key of xds-config, the marker included. */
  readonly keys: ReadonlyMap<string, string>;
}

export interface NginxOptions {
  readonly shmPath: string;
  readonly configDictSize?: string;
  readonly workers?: number;
  /**
   * Worker 1 polls `version` every millisecond and records, for each new value it sees, how many
   * keys xds-config held at that moment (GET /observations: "version count" lines) — what an APISIX
   * worker syncing right after the bump would find.
   */
  readonly observe?: boolean;
}

const conf = (prefix: string, port: number, options: NginxOptions): string => `
load_module ${MODULES}/ndk_http_module.so;
load_module ${MODULES}/ngx_http_lua_module.so;
user nobody nogroup;
worker_processes ${options.workers ?? 2};
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log info;
env AMESH_XDS_SHM=${options.shmPath};
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  lua_package_cpath "${dirname(defaultLibraryPath())}/?.so;;";
  lua_shared_dict xds-config ${options.configDictSize ?? '10m'};
  lua_shared_dict xds-config-version 1m;
  lua_shared_dict observations 4m;
  init_worker_by_lua_block {
    if ngx.worker.id() == 1 and ${options.observe ? 'true' : 'false'} then
      local last
      ngx.timer.every(0.001, function()
        local version = ngx.shared["xds-config-version"]:get("version")
        if version and version ~= last then
          last = version
          ngx.shared.observations:rpush("log", version .. " " .. #ngx.shared["xds-config"]:get_keys(0))
        end
      end)
    end
    if ngx.worker.id() ~= 0 then return end
    local ffi = require("ffi")
    require("resty.core.shdict")
    ffi.cdef[[ extern void initial(void* config_zone, void* version_zone); ]]
    local lib
    for entry in string.gmatch(package.cpath, "[^;]+") do
      local dir = entry:match("(.*/)")
      if dir and io.open(dir .. "libxds.so") then lib = ffi.load(dir .. "libxds.so") break end
    end
    local C = ffi.C
    local config_zone = C.ngx_http_lua_ffi_shdict_udata_to_zone(ngx.shared["xds-config"][1])
    local version_zone = C.ngx_http_lua_ffi_shdict_udata_to_zone(ngx.shared["xds-config-version"][1])
    lib.initial(ffi.cast("void*", config_zone), ffi.cast("void*", version_zone))
    -- APISIX keeps the handle only in a local: collect it now, the reader thread must survive that.
    lib = nil
    collectgarbage()
    collectgarbage()
  }
  server {
    listen 127.0.0.1:${port};
    location = /dump {
      content_by_lua_block {
        local config = ngx.shared["xds-config"]
        local out = { ngx.shared["xds-config-version"]:get("version") or "" }
        for _, key in ipairs(config:get_keys(0)) do
          out[#out + 1] = key .. "\\t" .. (config:get(key) or "")
        end
        ngx.print(table.concat(out, "\\n"))
      }
    }
    location = /observations {
      content_by_lua_block {
        local log = ngx.shared.observations
        local out = {}
        while true do
          local line = log:lpop("log")
          if not line then break end
          out[#out + 1] = line
        end
        ngx.print(table.concat(out, "\\n"))
      }
    }
    location = /pids {
      content_by_lua_block { ngx.print(ngx.worker.pid()) }
    }
  }
}
`;

function parseDump(text: string): DictDump {
  const [version, ...lines] = text.split('\n');
  const keys = new Map<string, string>();
  for (const line of lines) {
    const tab = line.indexOf('\t');
    if (tab > 0) keys.set(line.slice(0, tab), line.slice(tab + 1));
  }
  return { version: version || undefined, keys };
}

export class NginxShdict {
  private constructor(
    readonly prefix: string,
    readonly port: number,
    private child: ChildProcess,
    private readonly confPath: string,
  ) {}

  /** A prefix directory nginx's workers can traverse, holding a `shm/` directory of their group. */
  static async makeDirs(): Promise<{ prefix: string; shmDir: string }> {
    const prefix = await mkdtemp(join(tmpdir(), 'amesh-nginx-'));
    await chmod(prefix, 0o711);
    const shmDir = join(prefix, 'shm');
    await mkdir(shmDir, { mode: 0o750 });
    await chown(shmDir, 0, NGINX_GID);
    await chmod(shmDir, 0o750);
    return { prefix, shmDir };
  }

  static removeDirs(prefix: string): Promise<void> {
    return rm(prefix, { recursive: true, force: true });
  }

  static async start(prefix: string, options: NginxOptions): Promise<NginxShdict> {
    await mkdir(join(prefix, 'tmp'), { recursive: true });
    let lastError = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const confPath = join(prefix, 'nginx.conf');
      await writeFile(confPath, conf(prefix, port, options));
      const child = spawn(NGINX, ['-p', prefix, '-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const nginx = new NginxShdict(prefix, port, child, confPath);
      if (await nginx.waitUntilServing(child)) return nginx;
      lastError = stderr + (await readFile(join(prefix, 'error.log'), 'utf8').catch(() => ''));
      child.kill('SIGKILL');
      if (!lastError.includes('Address already in use')) break;
    }
    throw new Error(`nginx did not start: ${lastError}`);
  }

  private async waitUntilServing(child: ChildProcess): Promise<boolean> {
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) return false;
      try {
        const response = await fetch(`http://127.0.0.1:${this.port}/pids`);
        if (response.ok) return true;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  }

  async dump(): Promise<DictDump> {
    const response = await fetch(`http://127.0.0.1:${this.port}/dump`);
    if (!response.ok) throw new Error(`GET /dump: ${response.status}`);
    return parseDump(await response.text());
  }

  /** `nginx -s reload`: new workers (a new worker 0 calls initial() again), the dicts survive. */
  async reload(): Promise<void> {
    await promisify(execFile)(NGINX, ['-p', this.prefix, '-c', this.confPath, '-s', 'reload']);
  }

  /** Drains worker 1's record of (version, key count) pairs, in the order it saw them. */
  async observations(): Promise<{ readonly version: string; readonly keys: number }[]> {
    const response = await fetch(`http://127.0.0.1:${this.port}/observations`);
    const text = await response.text();
    return text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => ({ version: line.split(' ')[0]!, keys: Number(line.split(' ')[1]) }));
  }

  errorLog(): Promise<string> {
    return readFile(join(this.prefix, 'error.log'), 'utf8').catch(() => '');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    }
  }

  /** Stops nginx and removes the prefix (the shm file included). */
  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.prefix, { recursive: true, force: true });
  }
}

/** Per slot of the shared-memory file (native/src/xds_layout.h): snapshot generation and delta-log bytes. */
export async function shmSlots(path: string): Promise<{ generation: bigint; logBytes: bigint; lastGeneration: bigint }[]> {
  const file = await open(path, 'r');
  const header = Buffer.alloc(4096);
  await file.read(header, 0, header.length, 0).finally(() => file.close());
  const SLOTS = 48; // magic, layout, header_size, slot_capacity, file_id, published_generation, publish_seq, ack_seq
  return [0, 1].map((i) => {
    const at = SLOTS + i * 40;
    return { generation: header.readBigUInt64LE(at), logBytes: header.readBigUInt64LE(at + 24), lastGeneration: header.readBigUInt64LE(at + 32) };
  });
}
