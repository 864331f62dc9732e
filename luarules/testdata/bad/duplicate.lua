return {
    { identifier = 'twice', interval = 1, typ = 'normal', callback = function(self) end },
    { identifier = 'twice', interval = 2, typ = 'normal', callback = function(self) end },
}
