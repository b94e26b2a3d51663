-- The original destination of the connection behind the current request, inside nginx, from LuaJIT
-- FFI alone (no C library of ours): APISIX runs in a pod behind Istio's iptables capture, where
-- nginx's $server_addr/$server_port are the proxy's own (15001 outbound, 15006 inbound), never the
-- address and port the client dialled, and Envoy's routing (route tables per port, TCP routes per
-- service VIP) needs the dialled ones.
--
--   REDIRECT (nat): conntrack keeps the dialled address; getsockopt(SO_ORIGINAL_DST) on the
--     accepted socket returns it (IPv4: SOL_IP; IPv6: SOL_IPV6 + IP6T_SO_ORIGINAL_DST, same number).
--   TPROXY, or a connection that was not redirected: the socket's local address already is the
--     destination (getsockname), which is also what Envoy falls back to.
--
-- The socket comes from nginx's own structs, whose first fields have not changed across nginx 1.x
-- (checked on Debian's nginx 1.22 + lua-nginx-module 0.10.23 + stream-lua 0.0.12):
--   http:   ngx_http_request_t       { uint32_t signature; ngx_connection_t *connection; ... }
--   stream: ngx_stream_lua_request_t { ngx_connection_t *connection; ... }
--   ngx_connection_t { void *data; ngx_event_t *read; ngx_event_t *write; ngx_socket_t fd; ... }
-- HTTP/2 streams run on a copy of the connection that keeps its fd.
--
-- Uses (docs/original-destination.md):
--   HTTP, as nginx variables set before APISIX routes (server-level rewrite, in
--   nginx_config.http_server_configuration_snippet):
--       set $amesh_original_dst_addr '';
--       set_by_lua_block $amesh_original_dst_port { return require("amesh.original_dst").http_variables() }
--   stream: install_stream_router() (called by the `amesh.hook` lua_module_hook) makes APISIX's
--   stream router, and everything else reading the request context's server_addr/server_port, see
--   the original destination.
local ffi = require("ffi")
local base = require("resty.core.base")

local C = ffi.C
local get_request = base.get_request
local subsystem = ngx.config.subsystem

local _M = {}

-- Our own type names and symbol-redirected prototypes (__asm__), so that nothing here can clash with
-- another module's declarations of struct sockaddr, getsockopt, ... in the same LuaJIT state.
ffi.cdef [[
typedef struct {
    void *data;
    void *read;
    void *write;
    int fd;
} amesh_odst_ngx_connection_t;

typedef struct {
    uint32_t signature;
    amesh_odst_ngx_connection_t *connection;
} amesh_odst_ngx_http_request_t;

typedef struct {
    amesh_odst_ngx_connection_t *connection;
} amesh_odst_ngx_stream_lua_request_t;

typedef struct {
    uint16_t family;
    uint8_t port[2];
    uint8_t rest[124];
} amesh_odst_sockaddr_t;

int amesh_odst_getsockopt(int fd, int level, int name, void *value, uint32_t *length) __asm__("getsockopt");
int amesh_odst_getsockname(int fd, void *addr, uint32_t *length) __asm__("getsockname");
const char *amesh_odst_inet_ntop(int family, const void *src, char *dst, uint32_t size) __asm__("inet_ntop");
]]

local AF_INET, AF_INET6 = 2, 10
local SOL_IP, SOL_IPV6 = 0, 41
-- SO_ORIGINAL_DST (linux/netfilter_ipv4.h) and IP6T_SO_ORIGINAL_DST (netfilter_ipv6/ip6_tables.h).
local SO_ORIGINAL_DST = 80
local SOCKADDR_SIZE = 128

-- One set of buffers per worker: each call fills and reads them without yielding.
local original = ffi.new("amesh_odst_sockaddr_t")
local locally = ffi.new("amesh_odst_sockaddr_t")
local length = ffi.new("uint32_t[1]")
local text = ffi.new("char[46]") -- INET6_ADDRSTRLEN
local http_request_t = ffi.typeof("amesh_odst_ngx_http_request_t *")
local stream_request_t = ffi.typeof("amesh_odst_ngx_stream_lua_request_t *")

local function port_of(sa)
    return sa.port[0] * 256 + sa.port[1]
end

-- ::ffff:a.b.c.d, an IPv4 client on a dual-stack ([::] ipv6only=off) listener.
local function v4_mapped(sa)
    local b = sa.rest -- sin6_flowinfo (4 bytes), then sin6_addr
    for i = 4, 13 do
        if b[i] ~= 0 then
            return false
        end
    end
    return b[14] == 0xff and b[15] == 0xff
end

local function address_text(sa)
    local family, bytes = sa.family, sa.rest
    if family == AF_INET then
        -- sin_addr follows the port directly
        return C.amesh_odst_inet_ntop(AF_INET, bytes, text, 46) ~= nil and ffi.string(text) or nil
    end
    if v4_mapped(sa) then
        return C.amesh_odst_inet_ntop(AF_INET, bytes + 16, text, 46) ~= nil and ffi.string(text) or nil
    end
    return C.amesh_odst_inet_ntop(AF_INET6, bytes + 4, text, 46) ~= nil and ffi.string(text) or nil
end

--- The original destination of a TCP socket.
-- @return address (text, IPv4 dotted or IPv6 compressed; an IPv4 client on a dual-stack listener
--   gives the IPv4 text), port (number), and whether the connection was redirected (the original
--   destination differs from the socket's own address); or nil and an error.
function _M.of_fd(fd)
    length[0] = SOCKADDR_SIZE
    if C.amesh_odst_getsockname(fd, locally, length) ~= 0 then
        return nil, "getsockname failed: errno " .. ffi.errno()
    end
    local family = locally.family
    if family ~= AF_INET and family ~= AF_INET6 then
        return nil, "not an IP socket (address family " .. family .. ")"
    end
    -- A v4-mapped socket carries IPv4 conntrack state: the IPv4 option answers for it.
    local ipv4 = family == AF_INET or v4_mapped(locally)
    length[0] = SOCKADDR_SIZE
    local here, here_port = address_text(locally), port_of(locally)
    if not here then
        return nil, "inet_ntop failed"
    end
    if C.amesh_odst_getsockopt(fd, ipv4 and SOL_IP or SOL_IPV6, SO_ORIGINAL_DST, original, length) == 0 then
        -- Any tracked connection answers, NATed or not: one that was not redirected gives the
        -- socket's own address back.
        local addr, port = address_text(original), port_of(original)
        if addr then
            return addr, port, addr ~= here or port ~= here_port
        end
    end
    -- ENOENT: conntrack holds no entry for it; ENOPROTOOPT: conntrack is not loaded. Either way the
    -- socket's own address is where the client was going (TPROXY keeps it there), as with Envoy.
    return here, here_port, false
end

--- The downstream socket of the current http request or stream session.
local function current_fd()
    local r = get_request()
    if not r then
        return nil, "no request"
    end
    local c
    if subsystem == "http" then
        c = ffi.cast(http_request_t, r).connection
    else
        c = ffi.cast(stream_request_t, r).connection
    end
    if c == nil or c.fd < 0 then
        return nil, "the request has no socket"
    end
    return c.fd
end

--- The original destination of the current request's connection (http or stream).
-- @return address, port, redirected (boolean); or nil and an error.
function _M.get()
    local fd, err = current_fd()
    if not fd then
        return nil, err
    end
    return _M.of_fd(fd)
end

--- For set_by_lua: sets $amesh_original_dst_addr (declared with `set` before) and returns the port
-- for $amesh_original_dst_port. On failure both keep nginx's own $server_addr/$server_port, so a
-- route scoped by port still sees a port.
function _M.http_variables()
    local addr, port = _M.get()
    local var = ngx.var
    if not addr then
        ngx.log(ngx.WARN, "amesh: original destination unknown (", port, "), using $server_addr:$server_port")
        var.amesh_original_dst_addr = var.server_addr
        return var.server_port
    end
    var.amesh_original_dst_addr = addr
    return tostring(port)
end

--- Stream: APISIX's stream router matches `server_addr` and `server_port` through the request
-- context's variables (apisix.core.ctx), which take registered getters before nginx's variables.
-- Registered here, they answer the original destination; the context caches them per session.
-- Call in the stream subsystem's init phase (the lua_module_hook), after resty.core.
function _M.install_stream_router()
    if subsystem ~= "stream" then
        return false, "not the stream subsystem"
    end
    local ok, ctx = pcall(require, "apisix.core.ctx")
    if not ok then
        return false, "apisix.core.ctx: " .. tostring(ctx)
    end
    local function lookup(api_ctx)
        local found = api_ctx.amesh_original_dst
        if not found then
            local addr, port = _M.get()
            if not addr then
                ngx.log(ngx.WARN, "amesh: original destination unknown (", port, "), using $server_addr:$server_port")
                addr, port = ngx.var.server_addr, tonumber(ngx.var.server_port)
            end
            found = { addr = addr, port = port }
            api_ctx.amesh_original_dst = found
        end
        return found
    end
    ctx.register_var("server_addr", function(api_ctx)
        return lookup(api_ctx).addr
    end)
    -- nginx's $server_port is text; the router compares tonumber() of it.
    ctx.register_var("server_port", function(api_ctx)
        return tostring(lookup(api_ctx).port)
    end)
    return true
end

return _M
