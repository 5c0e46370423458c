module github.com/ctrkit/container

go 1.24.0

require (
	github.com/cyphar/filepath-securejoin v0.7.0
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	golang.org/x/sys v0.40.0
)

require cyphar.com/go-pathrs v0.2.5 // indirect
