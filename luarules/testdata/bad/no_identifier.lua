return {
    {
        name = 'nameless',
        interval = 10,
        typ = 'normal',
        callback = function(self) end
    }
}
