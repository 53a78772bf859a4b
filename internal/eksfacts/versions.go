package eksfacts

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// CalendarAsOf is the day eksSupport was last checked against the Amazon EKS Kubernetes release calendar. The
// program asks EKS itself (eks.getClusterVersions) and falls back on this calendar only when it cannot; the policy
// pack, which cannot call AWS, reads it too.
const CalendarAsOf = "2026-11-27"

// eksSupport holds the end of standard and of extended support per Kubernetes minor version, from the Amazon EKS
// Kubernetes release calendar. After the extended end AWS upgrades such clusters and refuses to create new ones.
var eksSupport = map[string]struct{ standardEnd, extendedEnd string }{
	"1.23": {"2023-10-11", "2024-10-11"},
	"1.24": {"2024-01-31", "2025-01-31"},
	"1.25": {"2024-05-01", "2025-05-01"},
	"1.26": {"2024-06-11", "2025-06-11"},
	"1.27": {"2024-07-24", "2025-07-24"},
	"1.28": {"2024-11-26", "2025-11-26"},
	"1.29": {"2025-03-23", "2026-03-23"},
	"1.30": {"2025-07-23", "2026-07-23"},
	"1.31": {"2025-11-26", "2026-11-26"},
	"1.32": {"2026-03-23", "2027-03-23"},
	"1.33": {"2026-07-29", "2027-07-29"},
	"1.34": {"2026-12-02", "2027-12-02"},
	"1.35": {"2027-03-27", "2028-03-27"},
}

var kubernetesVersionPattern = regexp.MustCompile(`^1\.(\d{2})$`)

// CheckKubernetesVersion validates a "1.NN" version string.
func CheckKubernetesVersion(v string) error {
	m := kubernetesVersionPattern.FindStringSubmatch(v)
	if m == nil {
		return fmt.Errorf("want a Kubernetes minor version of the form 1.NN (e.g. 1.32), got %q", v)
	}
	if minor, _ := strconv.Atoi(m[1]); minor < 23 {
		return fmt.Errorf("want 1.23 or later (EKS never offers older versions again), got %q", v)
	}
	return nil
}

// EKS version status names, as eks.getClusterVersions reports them.
const (
	StandardSupport = "STANDARD_SUPPORT"
	ExtendedSupport = "EXTENDED_SUPPORT"
	Unsupported     = "UNSUPPORTED"
)

// Support is where a Kubernetes version stands in EKS: its status and the two end dates (YYYY-MM-DD).
type Support struct {
	Version, Status          string
	StandardEnd, ExtendedEnd string
	// Source says where the facts come from, for the warning: EKS itself, or this calendar and its age.
	Source string
}

// FromCalendar is version v's support at time now by the calendar; false for a version the calendar lacks.
func FromCalendar(v string, now time.Time) (Support, bool) {
	s, ok := eksSupport[v]
	if !ok {
		return Support{}, false
	}
	status := StandardSupport
	std, _ := time.Parse(time.DateOnly, s.standardEnd)
	switch {
	case PastExtendedSupport(v, now):
		status = Unsupported
	case !now.Before(std):
		status = ExtendedSupport
	}
	return Support{Version: v, Status: status, StandardEnd: s.standardEnd, ExtendedEnd: s.extendedEnd,
		Source: "this program's EKS calendar as of " + CalendarAsOf}, true
}

// Warning says what the status costs, or "" in standard support.
func (s Support) Warning() string {
	switch {
	case s.Status == Unsupported && s.ExtendedEnd == "":
		return fmt.Sprintf("kubernetesVersion %s: %s", s.Version, s.Source)
	case s.Status == Unsupported:
		return fmt.Sprintf("kubernetesVersion %s is past EKS extended support (ended %s; %s): AWS no longer creates "+
			"clusters at this version and upgrades existing ones; use it only to reproduce the reference", s.Version, s.ExtendedEnd, s.Source)
	case s.Status == ExtendedSupport:
		return fmt.Sprintf("kubernetesVersion %s is in EKS extended support until %s (standard support ended %s; %s), "+
			"which AWS bills at $0.60 per cluster-hour instead of $0.10 (Amazon EKS pricing)", s.Version, s.ExtendedEnd, s.StandardEnd, s.Source)
	}
	return ""
}

// PastExtendedSupport reports whether EKS has stopped creating clusters at version v by time now.
func PastExtendedSupport(v string, now time.Time) bool {
	s, ok := eksSupport[v]
	if !ok {
		return false
	}
	ext, _ := time.Parse(time.DateOnly, s.extendedEnd)
	return !now.Before(ext)
}

// SupportWarning says whether EKS still supports version v at time now by the calendar, or "" when it is in
// standard support (or newer than the calendar).
func SupportWarning(v string, now time.Time) string {
	s, ok := FromCalendar(v, now)
	if !ok {
		return ""
	}
	return s.Warning()
}
