return {
    { identifier = 'x', interval = 1, typ = 'normal', callback = function(self) end end },
}
