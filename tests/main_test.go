package tests

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain reads the machine first (the real-engine build: its cores and speed, for the admission queue and the
// bounds; see pace_test.go), lets up to 64 parallel tests wait at once unless -parallel is given, and finishes the
// suite after them (the real-engine build stops its shared simulated cluster). Go's own limit is not what paces
// the real-engine tests: it would release them in no fixed order. Every one of them waits in the queue, which
// starts the longest first while their load fits the machine.
func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", "64")
	}
	startSuite()
	code := m.Run()
	if err := finishSuite(code != 0); err != nil {
		fmt.Println("after the tests:", err)
		code = max(code, 1)
	}
	os.Exit(code)
}
