package tests

import (
	"flag"
	"os"
	"testing"
)

// TestMain runs the parallel tests four at a time unless -parallel is given. The real-engine tests mostly wait
// on Flagger's 10 s intervals; at the default (GOMAXPROCS, 2 on the CI machines) the package, now on real
// traffic, outgrew the README's 30-minute timeout in a cold CI run.
func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", "4")
	}
	os.Exit(m.Run())
}
