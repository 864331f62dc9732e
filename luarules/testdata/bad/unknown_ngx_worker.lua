return {
    {
        identifier = 'exiting',
        interval = 10,
        typ = 'normal',
        callback = function(self)
            if ngx.worker.exiting() then return end
        end
    }
}
