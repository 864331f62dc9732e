package pgdict_test

import (
	"context"
	"log"
	"time"

	"github.com/ngxtasks/ngxtasks"
	_ "github.com/ngxtasks/ngxtasks/pgdict" // registers postgres:// and postgresql://
)

// A worker opens the shared dictionary by URL and gives it to its Manager;
// every worker of the fleet does the same, with the same Namespace.
func Example() {
	ctx := context.Background()
	d, err := ngxtasks.OpenDict(ctx, "postgres://app:secret@127.0.0.1:5432/app?sslmode=disable")
	if err != nil {
		log.Fatal(err) // names the server and the cause, never the password
	}
	defer d.Close()
	m := &ngxtasks.Manager{Dict: d, Namespace: "billing", UseStoreClock: true}
	err = m.Push(ngxtasks.Rule{Identifier: "invoices", Interval: time.Minute, Type: ngxtasks.Preemption,
		Callback: func(ctx context.Context, f ngxtasks.Firing) error {
			log.Printf("sending the invoices of slot %d, here only", f.Slot.N)
			return nil
		}})
	if err != nil {
		log.Fatal(err)
	}
	go m.Start(ctx)
	defer m.Shutdown(ctx)
}
