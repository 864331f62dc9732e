package luarules_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/luarules"
)

// The seed's DING/DONG rules file, unchanged, run by one worker: Load
// validates it once, Worker gives the worker its Lua state and rules, and
// ngx.log lines go to the worker's slog logger.
func Example() {
	f, err := luarules.Load("testdata/seed/rules.lua", luarules.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range f.Rules() {
		fmt.Printf("%s:%d %s every %v, %v\n", r.File, r.Line, r.Identifier, r.Interval, r.Type)
	}

	dict := ngxtasks.NewMemoryDict()
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // for a stable output
			}
			return a
		},
	}))
	w, err := f.Worker(luarules.WorkerConfig{ID: 0, Dict: dict, Logger: logger})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	m := &ngxtasks.Manager{Dict: dict, Keys: w.Keys(), Logger: slog.New(slog.DiscardHandler)}
	if err := m.Push(w.Rules()...); err != nil {
		fmt.Println(err)
		return
	}
	defer m.Shutdown(context.Background())
	if err := m.Run(context.Background()); err != nil { // one drive step: tasks:run()
		fmt.Println(err)
	}
	// Output:
	// testdata/seed/rules.lua:7 TRYDING every 10s, normal
	// testdata/seed/rules.lua:13 TRYDONG every 1m0s, preemption
	// level=ERROR msg=TRYDING ngx_level=alert lua=testdata/seed/rules.lua:2 rule=TRYDING
	// level=ERROR msg=TRYDONG ngx_level=alert lua=testdata/seed/rules.lua:2 rule=TRYDONG
}
