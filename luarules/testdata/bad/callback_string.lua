return {
    {
        identifier = 'notfunc',
        interval = 10,
        typ = 'normal',
        callback = 'dingdong'
    }
}
