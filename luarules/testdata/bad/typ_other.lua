return {
    {
        identifier = 'odd',
        interval = 10,
        typ = 'other',
        callback = function(self) end
    }
}
