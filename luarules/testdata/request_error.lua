return {
    {
        identifier = 'breaks',
        interval = 1,
        typ = 'normal',
        drive = 'request',
        callback = function(self)
            ngx.status = 500
            ngx.say('half an answer')
            error('broken halfway')
        end
    },
}
