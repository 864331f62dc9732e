-- Four mistakes.
local function fetch()
    return ngx.location.capture('/x')
end

return {
    {
        identifier = 'a', interval = 0, typ = 'normal', callback = fetch,
    },
    {
        identifier = 'b', interval = 1, typ = 'other',
    },
}
