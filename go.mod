module github.com/ctrkit/container

go 1.26.0

require (
	github.com/containerd/cgroups/v3 v3.1.3
	github.com/cyphar/filepath-securejoin v0.7.0
	golang.org/x/sys v0.40.0
)

require (
	cyphar.com/go-pathrs v0.2.5 // indirect
	github.com/moby/sys/userns v0.1.0 // indirect
)
