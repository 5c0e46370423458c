package container

// FakeLandlockABI makes Start see a kernel of Landlock ABI abi (a ruleset it
// plans for that ABI is still enforced by the real kernel) until restore.
func FakeLandlockABI(abi int) (restore func()) {
	landlockABI = func() (int, error) { return abi, nil }
	return func() { landlockABI = kernelLandlockABI }
}
