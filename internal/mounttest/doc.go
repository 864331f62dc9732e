// Package mounttest proves the ways of mounting Manager.Middleware in
// routers that docs/library.md gives, with the routers themselves (chi,
// echo): the handler's status (an error returned to echo included) and a
// router's 404 reach the client on a request whose run rewrites the
// response. The routers are test dependencies of this package alone; the
// core stays standard-library only.
package mounttest
