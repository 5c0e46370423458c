package container_test

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/ctrkit/container"
)

// A rootless test harness and its container talking both ways: the
// container reaches a server on the host's 127.0.0.1 at UserNetworkHost,
// and the host reaches the container's port 80 on 127.0.0.1:18080. It needs
// pasta (Debian's passt package) or slirp4netns, and no privilege.
func ExampleWithUserNetwork() {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the harness's HTTP server, on the host's loopback
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	script := fmt.Sprintf("wget -q -O- http://%s:%d/; exec httpd -f -p 80", container.UserNetworkHost, port)
	c, err := container.New("/srv/rootfs", []string{"/bin/sh", "-c", script},
		container.WithUserNetwork(),
		container.WithPublish(18080, 80), // 127.0.0.1:18080 on the host → port 80 in the container
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	if err := c.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	// ... serve the container's request on ln; GET http://127.0.0.1:18080/ ...
	c.Wait()
}
