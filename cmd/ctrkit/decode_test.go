package main

import (
	"strings"
	"testing"

	"github.com/ctrkit/container/oci"
)

// TestDecodeSpec: the platform sections ctrkit leaves undecoded are still
// refused by name when present, accepted when absent or null, and the rest
// of the document decodes as into specs.Spec.
func TestDecodeSpec(t *testing.T) {
	const base = `"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["/bin/true"], "cwd": "/"}, "hostname": "h"`
	for _, c := range []struct {
		extra, refused string
	}{
		{"", ""},
		{`, "windows": null, "vm": null`, ""},
		{`, "windows": {"layerFolders": ["C:\\x"]}`, "solaris/windows/vm/zos"},
		{`, "vm": {"kernel": {"path": "/k"}}`, "solaris/windows/vm/zos"},
		{`, "solaris": {}`, "solaris/windows/vm/zos"},
		{`, "zos": {}`, "solaris/windows/vm/zos"},
	} {
		spec, err := decodeSpec([]byte("{" + base + c.extra + "}"))
		if err != nil {
			t.Fatalf("%s: %v", c.extra, err)
		}
		if spec.Hostname != "h" || spec.Root == nil || spec.Root.Path != "rootfs" || spec.Process == nil || spec.Process.Args[0] != "/bin/true" {
			t.Errorf("%s: decoded %+v", c.extra, spec)
		}
		_, err = oci.FromSpec(spec, t.TempDir(), "id")
		switch {
		case c.refused == "" && err != nil && strings.Contains(err.Error(), "solaris/windows"):
			t.Errorf("%s: refused: %v", c.extra, err)
		case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused)):
			t.Errorf("%s: %v, want a refusal naming %s", c.extra, err, c.refused)
		}
	}
	if _, err := decodeSpec([]byte(`{"ociVersion": 1}`)); err == nil {
		t.Error("a malformed document decoded")
	}
}
