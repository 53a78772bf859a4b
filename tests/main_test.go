package tests

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain runs the parallel tests eight at a time unless -parallel is given, and finishes the suite after
// them (the real-engine build stops its shared simulated cluster). The real-engine tests mostly wait on
// Flagger's 10 s intervals: at the default (GOMAXPROCS, 2 on the CI machines) the package outgrew the README's
// 30-minute timeout in a cold CI run, and at four it used 41 % of two cores over its 13 minutes.
func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", "8")
	}
	code := m.Run()
	if err := finishSuite(code != 0); err != nil {
		fmt.Println("after the tests:", err)
		code = max(code, 1)
	}
	os.Exit(code)
}
