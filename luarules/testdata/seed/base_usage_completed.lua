-- The seed's "Base usage" snippet (base_usage.lua), with its placeholder
-- line "..." taken out and the rule it pushes defined first, as the
-- seed's "Rule/rules" snippet defines it (rule_example.lua).
rule = {
    name = 'test ding',
    identifier = 'testDing',
    interval = 60,      -- second
    typ = 'normal',     -- normal/preemption
    callback = function(self)
		ngx.log(ngx.ALERT, 'DING')
    end
}

tasks = require('ngx_tasks')
tasks.dict = 'your_shared_dict_config_in_<nginx.conf>'
tasks:push(rule)
tasks:run()
