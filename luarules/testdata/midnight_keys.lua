-- The seed's default key scheme, written as a custom generator: slots
-- counted from midnight (UTC here), the date in the key.
tasks = require('ngx_tasks')
tasks.keys = function(self, task, now)
    local secs = math.floor(now)
    local t = os.date('!*t', secs)
    local midnight = secs - (t.hour * 3600 + t.min * 60 + t.sec)
    return math.floor((now - midnight) / task.interval), task.identifier .. 'Preemption.' .. os.date('!%Y%m%d', secs)
end
tasks:push({ identifier = 'odd', interval = 7, typ = 'preemption', callback = function(self) end })
tasks:push({ identifier = 'fast', interval = 0.3, typ = 'preemption', callback = function(self) end })
tasks:run()
