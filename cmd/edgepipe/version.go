package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit are set at build time: -ldflags "-X main.version=… -X main.commit=…"
// (make build, make dist: `git describe --tags --always --dirty` and the short commit).
var (
	version = "dev"
	commit  = "unknown"
)

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit and Go version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			info, _ := debug.ReadBuildInfo()
			v, c := buildVersion(version, commit, info)
			fmt.Fprintf(cmd.OutOrStdout(), "edgepipe %s (commit %s, %s %s/%s)\n", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}

// buildVersion returns the version and commit to print: v and c as set by the linker,
// and where they were not set ("dev", "unknown"), what the Go toolchain stamped into the
// binary (info may be nil): the main module's version when it is a release (go install
// module@version), and the VCS revision of a build in a checkout (its first 12 hex
// digits, "-dirty" when the tree had uncommitted changes).
func buildVersion(v, c string, info *debug.BuildInfo) (string, string) {
	if info == nil {
		return v, c
	}
	if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	if c == "unknown" {
		var rev string
		var dirty bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			c = rev[:min(12, len(rev))]
			if dirty {
				c += "-dirty"
			}
		}
	}
	return v, c
}
