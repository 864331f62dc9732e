-- A generator that works at load and fails later.
tasks = require('ngx_tasks')
tasks.keys = function(self, task, now)
    if now > self.base_time + 1e6 then error('too late') end
    return math.floor((now - self.base_time) / task.interval), task.identifier
end
tasks.base_time = global_start_time
tasks:push({ identifier = 'k', interval = 1, typ = 'preemption', callback = function(self) end })
