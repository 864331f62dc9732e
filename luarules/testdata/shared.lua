-- ngx.shared across workers, and a filter.
return {
    {
        identifier = 'count',
        interval = 1,
        typ = 'normal',
        callback = function(self)
            local stats = ngx.shared.stats
            local n, err = stats:incr('runs', 1, 0)
            if not n then error('incr: ' .. err) end
            local first = stats:add('first', ngx.worker.id())
            stats:set('last', ngx.worker.id())
            stats:set('flag', true, 60)
            stats:set('temp', 'x')
            stats:delete('temp')
            self.seen = { runs = n, first = first, last = stats:get('last'),
                          flag = stats:get('flag'), temp = stats:get('temp'),
                          winner = stats:get('first'), other = ngx.shared.other:get('runs') }
        end
    },
    {
        identifier = 'filtered',
        interval = 1,
        typ = 'preemption',
        allow = false,
        filter = function(self) return self.allow end,
        callback = function(self) error('the filter said no') end
    },
}
