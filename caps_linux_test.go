package container

import (
	"strings"
	"testing"

	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// Our pure name table agrees with libcap's.
func TestCapNamesMatchLibcap(t *testing.T) {
	for i, name := range capNames {
		v, err := cap.FromName(strings.ToLower(name))
		if err != nil || int(v) != i {
			t.Errorf("%s: libcap says %v (%v), we say %d", name, v, err, i)
		}
	}
}
