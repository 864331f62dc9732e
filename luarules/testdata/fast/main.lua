-- The seed's DING/DONG rules with intervals of 0.2 s (rules.lua) and
-- its keys generator, unchanged (keys.lua); global_start_time comes from
-- the test, the same in every worker.
require('rules')
require('keys')
