local rules = require('broken_module')
return rules
