-- The file fails while it runs, at load.
local rules = require('ngx_tasks')
rules.push(nil)
