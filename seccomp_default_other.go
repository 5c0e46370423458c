//go:build !amd64

package container

// pregeneratedDefaultProgram is empty where no program was generated for the
// architecture: the default policy is compiled once per process instead.
const pregeneratedDefaultProgram = ""
