module github.com/ngxtasks/ngxtasks/luarules

go 1.26.0

require (
	github.com/ngxtasks/ngxtasks v0.0.0-00010101000000-000000000000
	github.com/yuin/gopher-lua v1.1.2
)
