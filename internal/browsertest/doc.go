// Package browsertest drives the status page (package status) in Debian's
// Chromium through chromedp: a running fleet's dashboard, its table,
// filters, history and token prompt, with a screenshot left in
// $NGXTASKS_ARTIFACTS. These tests were status's own; they live in this
// module (github.com/ngxtasks/ngxtasks/internal, never tagged) so that
// chromedp is no requirement of the root module, test-only ones included.
package browsertest
