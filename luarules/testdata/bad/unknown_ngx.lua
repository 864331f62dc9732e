return {
    {
        identifier = 'timer',
        interval = 10,
        typ = 'normal',
        callback = function(self)
            ngx.log(ngx.INFO, 'arming')
            ngx.timer.at(60, function() end)
        end
    }
}
