-- Stands for a copy of the original module left beside the rules.
error('the original ngx_tasks.lua was loaded')
