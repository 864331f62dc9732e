return {
    {
        identifier = 'broken',
        interval = 10
        typ = 'normal',
        callback = function(self) end
    }
}
