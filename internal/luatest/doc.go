// Package luatest runs the seed's Lua rules (package luarules) in several
// OS processes sharing a SQLite dictionary: the DING rule in every
// process each slot, the DONG rule once per slot across them. It is in
// module internal, which may require every backend, so that the luarules
// module requires none.
package luatest
