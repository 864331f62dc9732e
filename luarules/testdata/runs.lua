-- Rules whose runs go wrong, and one that keeps working beside them.
return {
    {
        identifier = 'runaway',
        interval = 1,
        typ = 'normal',
        timeout = 0.2,
        callback = function(self)
            while true do end
        end
    },
    {
        identifier = 'fails',
        interval = 1,
        typ = 'normal',
        callback = function(self)
            local t = nil
            return t.field
        end
    },
    {
        identifier = 'raises',
        interval = 1,
        typ = 'normal',
        callback = function(self)
            error('boom from ' .. self.identifier)
        end
    },
    {
        identifier = 'sneaky',
        interval = 1,
        typ = 'normal',
        callback = function(self)
            local name = 'ti' .. 'mer'
            return ngx[name].at(0, function() end)
        end
    },
    {
        identifier = 'sleeper',
        interval = 1,
        typ = 'normal',
        timeout = 0.2,
        callback = function(self)
            self.state = { asleep = true }
            ngx.sleep(30)
            self.state = { woke = true }
        end
    },
    {
        identifier = 'counter',
        interval = 1,
        typ = 'normal',
        runs = 0,
        callback = function(self)
            self.runs = self.runs + 1
            ngx.log(ngx.NOTICE, 'run ', self.runs, ' of ', self.identifier)
        end
    },
}
