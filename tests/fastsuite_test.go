//go:build !e2e

package tests

import "fmt"

// realEngineSuite is how to run what this build leaves out.
const realEngineSuite = "the real-engine suite is behind the e2e build tag: eval \"$(bash tests/e2e/tools.sh)\" && go test -tags e2e -timeout 60m ./tests/"

// finishSuite, run by TestMain after the tests, says how to run the real-engine suite (seen with -v or in a
// failing run): without the e2e tag no test starts a simulated cluster.
func finishSuite(bool) error {
	fmt.Println(realEngineSuite)
	return nil
}

// startSuite has nothing to read without the e2e tag: the fast suite starts no cluster.
func startSuite() {}
