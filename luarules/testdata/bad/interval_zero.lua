local tasks = require('ngx_tasks')
tasks:push({
    identifier = 'never',
    interval = 0,
    typ = 'normal',
    callback = function(self) end
})
