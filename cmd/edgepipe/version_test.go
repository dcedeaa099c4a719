package main

import (
	"bytes"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestBuildVersion(t *testing.T) {
	checkout := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "57e1d6712ab34cd56ef7890123456789abcdef01"}, {Key: "vcs.modified", Value: "true"}}}
	release := &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}
	for _, c := range []struct {
		v, c         string
		info         *debug.BuildInfo
		wantV, wantC string
	}{
		// make build: the linker's values win.
		{"v1.3.0-2-g57e1d67-dirty", "57e1d67", checkout, "v1.3.0-2-g57e1d67-dirty", "57e1d67"},
		// go build in a checkout: the stamped revision, marked dirty.
		{"dev", "unknown", checkout, "dev", "57e1d6712ab3-dirty"},
		// go install module@v1.4.0: the module version, no revision.
		{"dev", "unknown", release, "v1.4.0", "unknown"},
		{"dev", "unknown", nil, "dev", "unknown"},
	} {
		if v, cm := buildVersion(c.v, c.c, c.info); v != c.wantV || cm != c.wantC {
			t.Errorf("buildVersion(%q, %q): %q, %q; want %q, %q", c.v, c.c, v, cm, c.wantV, c.wantC)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	defer func(v, c string) { version, commit = v, c }(version, commit)
	version, commit = "v9.9.9", "abc1234"
	cmd := versionCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := "edgepipe v9.9.9 (commit abc1234, " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if out.String() != want {
		t.Errorf("version prints %q, want %q", out.String(), want)
	}
}
