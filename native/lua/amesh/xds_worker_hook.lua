-- APISIX `lua_module_hook` (conf: apisix.lua_module_hook: "amesh.xds_worker_hook") for nginx builds
-- without a privileged agent (Debian's and other stock nginx).
--
-- APISIX's xds config provider calls libxds.so's initial() only in the privileged agent, an
-- OpenResty core patch. Without one nobody calls it, and every worker blocks in init_worker waiting
-- for a first configuration version that never comes. This hook, required in init_by_lua before
-- APISIX itself, notes whether enabling the privileged agent succeeded; if it did not, worker 0
-- (also a respawned worker 0, and the new worker 0 after a reload: libxds.so rebuilds the dicts
-- from its file each time) loads the library and calls initial() exactly as config_xds.lua would.
-- With a privileged agent the hook stays out of the way.
local ffi = require("ffi")
local process = require("ngx.process")

local _M = { privileged_agent = false }

local enable_privileged_agent = process.enable_privileged_agent
process.enable_privileged_agent = function(...)
    local ok, err = enable_privileged_agent(...)
    _M.privileged_agent = ok and true or false
    return ok, err
end

-- config_xds.lua walks package.cpath the same way; the handle may be collected afterwards
-- (libxds.so is linked -z nodelete, so its thread survives that).
local function load_libxds()
    for entry in string.gmatch(package.cpath, "[^;]+") do
        local dir = entry:match("(.*/)")
        if dir then
            local path = dir .. "libxds.so"
            local f = io.open(path)
            if f then
                f:close()
                return ffi.load(path)
            end
        end
    end
    return nil, "libxds.so is not in package.cpath (" .. package.cpath .. ")"
end

local function start_xds_in_worker()
    require("resty.core.shdict")
    pcall(ffi.cdef, "extern void initial(void* config_zone, void* version_zone);")
    local config, version = ngx.shared["xds-config"], ngx.shared["xds-config-version"]
    if not config or not version then
        ngx.log(ngx.ERR, "amesh: the xds-config and xds-config-version dicts are not declared")
        return
    end
    local lib, err = load_libxds()
    if not lib then
        ngx.log(ngx.ERR, "amesh: ", err)
        return
    end
    local to_zone = ffi.C.ngx_http_lua_ffi_shdict_udata_to_zone
    lib.initial(ffi.cast("void*", to_zone(config[1])), ffi.cast("void*", to_zone(version[1])))
    ngx.log(ngx.INFO, "amesh: no privileged agent, libxds.so started in worker 0 (pid ", ngx.worker.pid(), ")")
end

if ngx.config.subsystem == "http" then
    local ok, config_xds = pcall(require, "apisix.core.config_xds")
    if ok then
        local init_worker = config_xds.init_worker
        config_xds.init_worker = function(...)
            if not _M.privileged_agent and process.type() == "worker" and ngx.worker.id() == 0 then
                start_xds_in_worker()
            end
            return init_worker(...)
        end
    end
end

return _M
