// dashboard-check validates Grafana dashboard JSON files strictly against the schema of
// grafana-foundation-sdk (the Go module pinned in go.mod): every field must be known to the
// dashboard, panel, panel-plugin (options and field config) and data-query types, and each value
// must pass their Validate(). Used by test/helm/dashboards.test.ts; see docs/dashboards.md.
//
//	dashboard-check FILE.json...
//
// Prints "ok FILE" per valid file, or the errors per invalid one, and exits 1 if any is invalid.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// failure turns the SDK's answer into nil or a real error: its generated methods return an empty
// cog.BuildErrors (a non-nil error interface holding a nil slice) when all is well.
func failure(err error) error {
	var buildErrs cog.BuildErrors
	if errors.As(err, &buildErrs) && len(buildErrs) == 0 {
		return nil
	}
	return err
}

func check(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var board dashboard.Dashboard
	if err := failure(board.UnmarshalJSONStrict(raw)); err != nil {
		return fmt.Errorf("strict unmarshalling: %w", err)
	}
	if err := failure(board.Validate()); err != nil {
		return fmt.Errorf("validation: %w", err)
	}
	return nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dashboard-check FILE.json...")
		os.Exit(2)
	}
	// The panel and data-query types (timeseries, stat, prometheus…) so that their options,
	// field config and targets are checked too, not kept as opaque JSON.
	plugins.RegisterDefaultPlugins()
	failed := false
	for _, path := range os.Args[1:] {
		if err := check(path); err != nil {
			failed = true
			fmt.Printf("invalid %s: %v\n", path, err)
			continue
		}
		fmt.Printf("ok %s\n", path)
	}
	if failed {
		os.Exit(1)
	}
}
