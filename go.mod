module github.com/ctrkit/container

go 1.24.0

require (
	github.com/cilium/ebpf v0.21.0
	github.com/containerd/cgroups/v3 v3.1.3
	github.com/cyphar/filepath-securejoin v0.7.0
	github.com/elastic/go-seccomp-bpf v1.6.0
	github.com/opencontainers/runtime-spec v1.3.0
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	golang.org/x/net v0.47.0
	golang.org/x/sys v0.40.0
)

require (
	cyphar.com/go-pathrs v0.2.5 // indirect
	github.com/google/go-containerregistry v0.20.6 // indirect
	github.com/moby/sys/userns v0.1.0 // indirect
)
