-- The project's APISIX `lua_module_hook` for a sidecar (conf: apisix.lua_module_hook: "amesh.hook").
-- APISIX takes one hook module and requires it in both subsystems' init_by_lua, after resty.core and
-- before APISIX itself; this one brings in everything of ours that has to be in place by then:
--   amesh.xds_worker_hook  libxds.so's initial() from worker 0 on nginx builds without a privileged
--                          agent (it stays out of the way with one, or without the xds provider);
--   stream                 APISIX's stream router matches the original destination (the VIP and
--                          port the client dialled before iptables sent it to 15001/15006) instead
--                          of nginx's $server_addr/$server_port (amesh.original_dst).
-- HTTP's $amesh_original_dst_addr/_port cannot come from here: nginx variables must be declared in
-- nginx.conf, so they come from the server snippet in docs/original-destination.md.
require("amesh.xds_worker_hook")

if ngx.config.subsystem == "stream" then
    local ok, err = require("amesh.original_dst").install_stream_router()
    if not ok then
        ngx.log(ngx.ERR, "amesh: the stream router keeps nginx's server address: ", err)
    end
end

return {}
