local tasks = require('ngx_tasks')
tasks.push({ identifier = 'kept', interval = 1, typ = 'normal', callback = function(self) end })
