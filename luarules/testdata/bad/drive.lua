return {
    {
        identifier = 'when',
        interval = 1,
        typ = 'normal',
        drive = 'sometimes',
        timeout = 'soon',
        callback = function(self) end
    }
}
