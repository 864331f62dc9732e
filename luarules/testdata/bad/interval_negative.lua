return {
    {
        identifier = 'backwards',
        interval = -5,
        typ = 'preemption',
        callback = function(self) end
    }
}
