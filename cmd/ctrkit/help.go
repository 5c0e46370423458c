package main

import (
	"errors"
	"fmt"
	"io"
)

// usages is each command's usage, as `ctrkit COMMAND --help` prints it, in
// the order `ctrkit --help` lists them.
var usages = []struct{ name, short, usage string }{
	{"create", "create a container, parked before its command", `create [--bundle DIR] [--pid-file FILE] [--console-socket SOCKET] [--preserve-fds N] [--no-pivot] ID
  Create the container ID from the bundle's config.json (default: the current
  directory) and leave it parked before its command, until "start".`},
	{"start", "run a created container's command", `start ID
  Run the command of the created container ID.`},
	{"run", "create and start a container", `run [--bundle DIR] [--pid-file FILE] [--console-socket SOCKET] [--preserve-fds N] [--detach] [--no-pivot] ID
  Create and start the container ID; without --detach, wait for it, delete it
  and exit with its status.`},
	{"state", "print a container's state", `state ID
  Print the container's OCI state as JSON.`},
	{"kill", "signal a container's processes", `kill [--all] ID [SIGNAL]
  Send SIGNAL (default SIGTERM; a name or a number) to the container's first
  process, or with --all to every process in its cgroup.`},
	{"delete", "remove a container", `delete [--force] ID
  Remove a stopped container (with --force, kill a running one first).`},
	{"exec", "run a further process in a container", `exec [--process FILE] [--tty] [--detach] [--pid-file FILE] [--console-socket SOCKET]
     [--cwd DIR] [--user UID[:GID]] [--env KEY=VALUE]... [--preserve-fds N] ID [COMMAND [ARG...]]
  Run a further process in the running container ID: COMMAND, or the process
  of the OCI process JSON FILE.`},
	{"ps", "list a container's processes", `ps [--format table|json] ID
  List the container's processes.`},
	{"pause", "freeze a container", `pause ID
  Freeze every process of the container (its cgroup's freezer).`},
	{"resume", "thaw a paused container", `resume ID
  Thaw a paused container.`},
	{"update", "change a container's cgroup limits", `update [--resources FILE] ID
  Change the container's cgroup limits to the linux.resources JSON of FILE
  (- or none: standard input).`},
	{"spec", "write a default config.json", `spec [--bundle DIR] [--rootless]
  Write a default config.json into the bundle directory.`},
	{"features", "print what this runtime supports", `features
  Print what this runtime supports, as the OCI features JSON.`},
	{"checkpoint", "not supported yet", `checkpoint ID
  Not supported yet.`},
	{"restore", "not supported yet", `restore ID
  Not supported yet.`},
}

const globalUsage = `usage: ctrkit [global flags] COMMAND [flags] [ARG...]

Global flags: --root DIR, --log FILE, --log-format text|json, --debug,
  --cgroup-manager cgroupfs, --version (-v), --help (-h).

Commands:`

// printUsage prints the usage of command name, or with name "" the global one
// with every command.
func printUsage(w io.Writer, name string) bool {
	if name == "" {
		fmt.Fprintln(w, globalUsage)
		for _, u := range usages {
			fmt.Fprintf(w, "  %-11s %s\n", u.name, u.short)
		}
		fmt.Fprintln(w, "\nctrkit COMMAND --help shows a command's flags.")
		return true
	}
	for _, u := range usages {
		if u.name == name {
			fmt.Fprintln(w, "usage: ctrkit "+u.usage)
			return true
		}
	}
	return false
}

// errHelp is parseFlags' answer to --help or -h among a command's flags.
var errHelp = errors.New("help asked for")

// wantsHelp reports whether a command's first argument asks for its usage
// (the commands that take no flags do not parse them).
func wantsHelp(args []string) bool {
	return len(args) > 0 && isHelp(args[0])
}

func isHelp(a string) bool { return a == "--help" || a == "-h" || a == "-help" }
