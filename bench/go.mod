module github.com/ngxtasks/ngxtasks/bench

go 1.26.0

require (
	github.com/ngxtasks/ngxtasks v0.0.0-00010101000000-000000000000
	github.com/ngxtasks/ngxtasks/calendar v0.0.0-00010101000000-000000000000
)

require github.com/netresearch/go-cron v0.15.1 // indirect
