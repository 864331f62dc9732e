package rulefile

import (
	"runtime"
	"sync"
)

// Parsing the items' YAML is two thirds of a load's time, and each run
// of items parses on its own, as a function of its text. The walk, which
// reads variables and env files, keeps the order of messages and checks
// ids across rules, stays on one goroutine. So when a file is parsed in
// pieces, its runs are parsed ahead of the walk on other goroutines (as
// many as GOMAXPROCS, up to maxParsers): on two CPUs a 10,000-rule file
// then loads in about two thirds of the time. At most aheadRuns runs are
// parsed and not yet walked, so that memory stays a few megabytes (a run
// of 64 KiB of text is about 2 MB of nodes) whatever the file's size.
const (
	maxParsers = 4
	aheadRuns  = 2 * maxParsers
)

// runsAhead parses runs of items ahead of the walk. Its results come in
// run order, through one channel per run.
type runsAhead struct {
	results []chan []*node // by run; a nil slice when the run did not parse as items
	walked  chan struct{}  // a token per run parsed and not yet taken
	stop    chan struct{}  // closed when the walk stops taking runs
	wg      sync.WaitGroup
}

// parseAhead starts parsing runs; close must be called when the walk is
// done with them, whether it took all of them or not.
func parseAhead(path string, runs [][]item) *runsAhead {
	a := &runsAhead{
		results: make([]chan []*node, len(runs)),
		walked:  make(chan struct{}, aheadRuns),
		stop:    make(chan struct{}),
	}
	for i := range a.results {
		a.results[i] = make(chan []*node, 1) // never blocks its one send
	}
	jobs := make(chan int)
	a.wg.Go(func() {
		defer close(jobs)
		for i := range runs {
			select {
			case a.walked <- struct{}{}:
			case <-a.stop:
				return
			}
			select {
			case jobs <- i:
			case <-a.stop:
				return
			}
		}
	})
	for range min(runtime.GOMAXPROCS(0), maxParsers, len(runs)) {
		a.wg.Go(func() {
			var buf []byte
			for i := range jobs {
				// A decoder of its own: the messages of a run that does
				// not parse are not used (the file is then parsed whole).
				d := &decoder{path: path}
				nodes, ok := d.itemNodes(runs[i], &buf)
				if !ok {
					nodes = nil
				}
				a.results[i] <- nodes
			}
		})
	}
	return a
}

// run waits for run i's nodes; ok is false when it did not parse as
// items. Runs must be taken in order.
func (a *runsAhead) run(i int) (nodes []*node, ok bool) {
	nodes = <-a.results[i]
	<-a.walked
	return nodes, nodes != nil
}

// close stops the parsing and waits for the parsers to end: a run being
// parsed is finished, no other is started.
func (a *runsAhead) close() {
	close(a.stop)
	a.wg.Wait()
}
