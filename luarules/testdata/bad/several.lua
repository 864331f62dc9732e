-- Five mistakes.
local function fetch()
    return ngx.location.capture('/x')
end

local function flush() -- no rule calls it: still reported
    ngx.shared.stats:flush_all()
end

return {
    {
        identifier = 'a', interval = 0, typ = 'normal', callback = fetch,
    },
    {
        identifier = 'b', interval = 1, typ = 'other',
    },
}
