package tests

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain runs up to 24 parallel tests at once unless -parallel is given, and finishes the suite after them
// (the real-engine build stops its shared simulated cluster). The real-engine tests mostly wait on Flagger's
// 10 s intervals: at eight at a time the last of them started five minutes in and the suite took 10.5 minutes
// warm on two cores; with every one of them started at once it takes as long as its longest test. (At the
// default, GOMAXPROCS, the package outgrew the README's 30-minute timeout in a cold CI run.)
func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", "24")
	}
	code := m.Run()
	if err := finishSuite(code != 0); err != nil {
		fmt.Println("after the tests:", err)
		code = max(code, 1)
	}
	os.Exit(code)
}
