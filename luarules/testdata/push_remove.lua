-- push and remove, called both ways, as the seed's README writes them.
local tasks = require('ngx_tasks')
local function rule(id) return { identifier = id, interval = 1, typ = 'normal', callback = function(self) end } end
tasks:push(rule('one'))
tasks.push(rule('two'))
tasks:push(rule('three'))
tasks.push(rule('four'))
tasks:remove('two')
tasks.remove('four')
tasks:run()
