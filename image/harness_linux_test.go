package image_test

import (
	"archive/tar"
	"context"
	"net/netip"
	"testing"

	"github.com/ctrkit/container"
	"github.com/ctrkit/container/containertest"
	"github.com/ctrkit/container/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// pushServerImage pushes a web server image (busybox httpd serving
// /srv/www on port 8080) to an in-process registry and returns its name.
func pushServerImage(t *testing.T) string {
	t.Helper()
	site := layerOf(t, tarBytes(t, []entry{{name: "srv/www/", typ: tar.TypeDir}, {name: "srv/www/index.html", body: "hello from the image\n"}}))
	img, err := mutate.AppendLayers(empty.Image, dirLayer(t, containertest.Rootfs(t)), site)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{"httpd -f -p 8080 -h /srv/www"}})
	if err != nil {
		t.Fatal(err)
	}
	ref := startRegistry(t) + "/test/web:1"
	push(t, img, ref)
	return ref
}

// TestServerFromImage is the README's harness test: a server container from
// an image, a client container against it.
func TestServerFromImage(t *testing.T) {
	containertest.SkipUnlessRoot(t)
	ref := pushServerImage(t)

	img, err := image.Load(context.Background(), ref, image.WithCache(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { img.Close() }) // after the containers' cleanup
	n, err := container.NewNetwork("web", netip.MustParsePrefix("169.254.77.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() }) // after the containers' cleanup
	containertest.StartImage(t, img, nil, container.WithNetwork(n), container.WithHostname("web"))
	client, err := img.New([]string{"until wget -qO- http://web:8080/; do sleep 0.1; done"}, container.WithNetwork(n))
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.CombinedOutput(context.Background())
	if err != nil || string(out) != "hello from the image\n" {
		t.Fatalf("client: %v\n%s", err, out)
	}
}
