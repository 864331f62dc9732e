-- Per-request rules, as a rewrite_by_lua handler would hold them: each
-- answers one request per slot in place of the handler, or changes its
-- status, depending on the request.
local tasks = require('ngx_tasks')

tasks:push({
    identifier = 'rewrite',
    interval = 1,
    typ = 'normal',
    drive = 'request',
    callback = function(self)
        local uri = ngx.var.uri
        if uri == '/teapot' then
            ngx.status = ngx.HTTP_OK + 218  -- 418: only the status changes
            return
        end
        if uri == '/old' then
            ngx.redirect('/new', ngx.HTTP_MOVED_PERMANENTLY)
        end
        if uri == '/tagged' then
            ngx.req.set_header('X-From-Lua', self.identifier)
            return
        end
        if uri == '/forbidden' then
            ngx.header['X-Denied-By'] = self.identifier
            ngx.exit(ngx.HTTP_FORBIDDEN)
        end
        local h = ngx.req.get_headers()
        ngx.header['X-Task'] = self.identifier
        ngx.header.x_worker = ngx.worker.id()
        ngx.header.content_type = 'text/plain'
        ngx.status = 203
        ngx.print('rewritten by ', self.identifier)
        ngx.say(' for ', ngx.var.request_method, ' ', uri, '?', ngx.var.args)
        ngx.say('agent=', h['User-Agent'], ' arg=', ngx.var.arg_x, ' host=', ngx.var.host)
        ngx.say('x=', ngx.req.get_uri_args().x, ' method=', ngx.req.get_method(),
                ' cookie=', ngx.var.cookie_session, ' lang=', h.accept_language,
                ' missing=', ngx.var.arg_nope, ' scheme=', ngx.var.scheme)
        ngx.exit(ngx.OK)
        error('not reached: ngx.exit ends the callback')
    end
})
tasks:run()
