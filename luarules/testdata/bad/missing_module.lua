local rules = require('no_such_rules')
return rules
