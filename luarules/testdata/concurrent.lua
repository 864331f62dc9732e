-- Two rules sharing a table; b sleeps between reading and writing, which
-- is safe only because a worker runs one callback at a time between
-- sleeps, as nginx does.
local counts = { a = 0, b = 0, inside = 0, max_inside = 0 }

local function bump(self)
    counts.inside = counts.inside + 1
    if counts.inside > counts.max_inside then counts.max_inside = counts.inside end
    local n = counts[self.identifier]
    if self.identifier == 'b' then
        counts.inside = counts.inside - 1
        -- asleep inside a coroutine, while a's run coroutines of their own
        local co = coroutine.create(function()
            ngx.sleep(0.001)
            coroutine.yield(coroutine.running())
        end)
        local ok, running = coroutine.resume(co)
        if not ok or running ~= co then error('coroutine state lost: ' .. tostring(running)) end
        counts.inside = counts.inside + 1
        n = counts.b
    else
        local co = coroutine.wrap(function() coroutine.yield(1) end)
        co()
    end
    counts[self.identifier] = n + 1
    counts.inside = counts.inside - 1
end

return {
    { identifier = 'a', interval = 1, typ = 'normal', counts = counts, callback = bump },
    { identifier = 'b', interval = 1, typ = 'normal', counts = counts, callback = bump },
}
