package container

import "testing"

func TestRlimitNamesHaveNumbers(t *testing.T) {
	for _, n := range rlimitNames {
		if _, ok := rlimitResources[n]; !ok {
			t.Errorf("%s has no resource number on Linux", n)
		}
	}
	if len(rlimitResources) != len(rlimitNames) {
		t.Errorf("%d resource numbers for %d names", len(rlimitResources), len(rlimitNames))
	}
}
