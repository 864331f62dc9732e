-- What nginx.conf's init_worker_by_lua would hold: the seed's DING/DONG
-- rules (rules.lua) and its custom keys generator (keys.lua), both
-- unchanged; global_start_time is set before (Options.Globals), as the
-- seed sets it in init_by_lua.
require('rules')
require('keys')
