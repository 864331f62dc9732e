-- What the ngx shim answers outside requests.
return {
    {
        identifier = 'clock',
        interval = 1,
        typ = 'normal',
        callback = function(self)
            print('printed ', 1, ' line')
            ngx.update_time()
            self.seen = {
                now = ngx.now(), time = ngx.time(), today = ngx.today(),
                localtime = ngx.localtime(), utctime = ngx.utctime(),
                id = ngx.worker.id(), pid = ngx.worker.pid(), count = ngx.worker.count(),
                ok = ngx.OK, http_ok = ngx.HTTP_OK, err = ngx.ERR, debug = ngx.DEBUG,
            }
        end
    },
    {
        identifier = 'exits',
        interval = 1,
        typ = 'normal',
        callback = function(self)
            self.before = true
            ngx.exit(ngx.OK)
            self.after = true
        end
    },
    {
        identifier = 'wants-request',
        interval = 1,
        typ = 'normal',
        callback = function(self)
            return ngx.var.uri
        end
    },
    {
        identifier = 'defaults',
        interval = '0.25',  -- a string, as Lua's arithmetic took it
        typ = 'preemption',
        callback = function(self) end
    },
    {
        identifier = 'ours',
        interval = 2,
        typ = 'normal',
        timeout = 1.5,
        drive = 'timer',
        offset = 0.5,
        spread = false,
        background = true,
        callback = function(self) end
    },
    {
        identifier = 'coroutines',
        interval = 1,
        typ = 'normal',
        callback = function(self)
            local co = coroutine.create(function()
                ngx.sleep(0.001)
                coroutine.yield(ngx.worker.id())
                return 'done'
            end)
            local _, first = coroutine.resume(co)
            local _, second = coroutine.resume(co)
            self.seen = { first = first, second = second }
        end
    },
    {
        identifier = 'quits',
        interval = 1,
        typ = 'normal',
        callback = function(self)
            os.exit(1)
        end
    },
}
