-- base_time is never set (the seed set it from init_by_lua).
tasks = require('ngx_tasks')
tasks.keys = function(self, task, now)
    return math.floor((now - self.base_time)/task.interval), task.identifier .. 'Preemption'
end
tasks.base_time = global_start_time
tasks:push({ identifier = 'k', interval = 1, typ = 'preemption', callback = function(self) end })
