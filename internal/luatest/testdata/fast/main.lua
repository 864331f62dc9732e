-- The seed's DING/DONG rules with half-second intervals (rules.lua) and
-- its keys generator, unchanged (keys.lua); global_start_time comes from
-- the test, the same in every process.
require('rules')
require('keys')
