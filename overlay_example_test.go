package container_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ctrkit/container"
)

// Containers on one root file system with WithOverlay write into a private
// upper layer each: the rootfs is left as it was, and none sees another's
// writes.
func ExampleWithOverlay() {
	rootfs := "/srv/rootfs" // e.g. containertest.Rootfs(t) or an unpacked image
	c, err := container.New(rootfs, []string{"/bin/sh", "-c", "rm -rf /usr; echo scratch > /etc/motd; ls /"},
		container.WithOverlay())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	c.Stdout = os.Stdout
	if err := c.Run(context.Background()); err != nil { // /srv/rootfs/usr is still there
		fmt.Fprintln(os.Stderr, err)
	}
}
