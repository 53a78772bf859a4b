package rollout

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// FormatEvent turns an engine event into one concise progress line, or reports false for events not worth a line.
func FormatEvent(e events.EngineEvent) (string, bool) {
	switch {
	case e.ResOutputsEvent != nil:
		m := e.ResOutputsEvent.Metadata
		if m.Op == apitype.OpSame || m.Type == "pulumi:pulumi:Stack" {
			return "", false
		}
		line := fmt.Sprintf("%s %s %s", opSymbol(m.Op), m.Op, resource.URN(m.URN).Name())
		if len(m.Diffs) > 0 {
			line += " (" + strings.Join(m.Diffs, ", ") + ")"
		}
		return line, true
	case e.ResOpFailedEvent != nil:
		m := e.ResOpFailedEvent.Metadata
		return fmt.Sprintf("x %s %s failed", m.Op, resource.URN(m.URN).Name()), true
	case e.DiagnosticEvent != nil:
		d := e.DiagnosticEvent
		if d.Severity != "warning" && d.Severity != "error" || d.Ephemeral {
			return "", false
		}
		return fmt.Sprintf("%s: %s", d.Severity, strings.TrimSpace(d.Message)), true
	case e.SummaryEvent != nil:
		s := e.SummaryEvent
		var counts []string
		for op, n := range s.ResourceChanges {
			if op != apitype.OpSame && n > 0 {
				counts = append(counts, fmt.Sprintf("%d %s", n, op))
			}
		}
		sort.Strings(counts)
		if len(counts) == 0 {
			counts = []string{"no changes"}
		}
		return fmt.Sprintf("update %s in %ds: %s", s.Result, s.DurationSeconds, strings.Join(counts, ", ")), true
	}
	return "", false
}

func opSymbol(op apitype.OpType) string {
	switch op {
	case apitype.OpCreate:
		return "+"
	case apitype.OpDelete:
		return "-"
	case apitype.OpReplace, apitype.OpCreateReplacement, apitype.OpDeleteReplaced:
		return "+-"
	}
	return "~"
}
