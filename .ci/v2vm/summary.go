// Command summary reads the serial log of the cgroup v2 stage (.ci/v2vm.sh):
// the `go test -v` output of the guest and its end marker. It prints the
// failed tests, the skip reasons grouped with the tests that gave them, and
// the counts, and exits 1 when the marker is missing, the test binary's exit
// status is not 0, or a test failed.
//
//	go run .ci/v2vm/summary.go serial.log
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

var (
	marker = regexp.MustCompile(`CTRKIT-V2VM-END rc=(\d+)`)
	// === RUN, CONT, NAME: the test whose output follows.
	switchTo = regexp.MustCompile(`^=== (?:RUN|CONT|NAME)\s+(\S+)`)
	result   = regexp.MustCompile(`^(\s*)--- (PASS|FAIL|SKIP): (\S+) \(`)
	logLine  = regexp.MustCompile(`^\s+\S+\.go:\d+: (.*)`)
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: summary SERIAL_LOG")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "v2vm:", err)
		os.Exit(1)
	}
	defer f.Close()

	var (
		cur      string
		last     = map[string]string{} // a test's last log message
		count    = map[string][2]int{} // PASS/FAIL/SKIP: top level, subtests
		failed   []string
		skips    = map[string][]string{} // reason → tests
		rc       = "missing"
		panicked bool
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if m := marker.FindStringSubmatch(line); m != nil {
			rc = m[1]
			continue
		}
		if strings.HasPrefix(line, "panic: ") {
			panicked = true
		}
		if m := switchTo.FindStringSubmatch(line); m != nil {
			cur = m[1]
			continue
		}
		if m := result.FindStringSubmatch(line); m != nil {
			level := 0
			if m[1] != "" {
				level = 1
			}
			c := count[m[2]]
			c[level]++
			count[m[2]] = c
			switch m[2] {
			case "FAIL":
				failed = append(failed, m[3])
			case "SKIP":
				reason := last[m[3]]
				if reason == "" {
					reason = "(no reason given)"
				}
				skips[reason] = append(skips[reason], m[3])
			}
			continue
		}
		if m := logLine.FindStringSubmatch(line); m != nil && cur != "" {
			last[cur] = m[1]
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "v2vm:", err)
		os.Exit(1)
	}

	reasons := make([]string, 0, len(skips))
	for r := range skips {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if len(skips[reasons[i]]) != len(skips[reasons[j]]) {
			return len(skips[reasons[i]]) > len(skips[reasons[j]])
		}
		return reasons[i] < reasons[j]
	})
	if len(reasons) > 0 {
		fmt.Println("v2vm: skipped, by reason:")
		for _, r := range reasons {
			fmt.Printf("  %d: %s\n      %s\n", len(skips[r]), r, strings.Join(skips[r], " "))
		}
	}
	for _, t := range failed {
		fmt.Println("v2vm: FAIL", t)
	}
	fmt.Printf("v2vm: subtests: %d passed, %d failed, %d skipped\n", count["PASS"][1], count["FAIL"][1], count["SKIP"][1])
	ran := count["PASS"][0] + count["FAIL"][0]
	ok := rc == "0" && len(failed) == 0 && !panicked && ran > 0
	switch {
	case rc == "missing":
		fmt.Println("v2vm: no end marker in the serial log: the guest did not finish (crash, hang or timeout)")
	case rc != "0":
		fmt.Println("v2vm: the test binary exited with status", rc)
	case panicked:
		fmt.Println("v2vm: the test binary panicked")
	case ran == 0:
		fmt.Println("v2vm: no test ran")
	}
	// The closing line, in the plain form CI reads: top-level tests.
	fmt.Printf("v2vm: %d passed, %d failed, %d skipped\n", count["PASS"][0], count["FAIL"][0], count["SKIP"][0])
	if !ok {
		os.Exit(1)
	}
}
