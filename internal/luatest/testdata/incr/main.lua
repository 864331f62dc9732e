-- Every run adds 1 to ngx.shared.counts 'n' ten times: the processes'
-- increments of one key race, and none may be lost.
return {
    {
        identifier = 'COUNT',
        interval = 0.1,
        typ = 'normal',
        callback = function(self)
            for i = 1, 10 do
                local v, err = ngx.shared.counts:incr('n', 1, 0)
                if not v then
                    error(err)
                end
            end
        end
    }
}
