// Package seccompopt holds the hook through which package seccomp hands the
// root package a compiled seccomp filter.
//
// The hook is a function variable, as in grpc's internal/internal.go: the
// root package sets it in its init, and package seccomp calls it and asserts
// the result to container.Option (this package cannot name that type: the
// root package imports it). So the root package exports no way to load raw
// BPF, and a program that imports only the root package links no seccomp
// compiler: a default container's init loads the pregenerated program and
// runs none of go-seccomp-bpf's package initialisation.
package seccompopt

// WithProgram returns a container.Option, as an any, that gives the
// container the filter program returns: the kernel's struct sock_filter
// array in native byte order. New calls program once, after every option was
// applied and unless WithoutSeccomp conflicts; its error becomes a
// *container.OptionError for option, the name the caller used
// ("seccomp.WithPolicy").
var WithProgram func(option string, program func() ([]byte, error)) any
