package eksfacts

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

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

// PastExtendedSupport reports whether EKS has stopped creating clusters at version v by time now.
func PastExtendedSupport(v string, now time.Time) bool {
	s, ok := eksSupport[v]
	if !ok {
		return false
	}
	ext, _ := time.Parse(time.DateOnly, s.extendedEnd)
	return !now.Before(ext)
}

// SupportWarning says whether EKS still supports version v at time now, or "" when it is in standard support
// (or newer than the calendar this program knows).
func SupportWarning(v string, now time.Time) string {
	s, ok := eksSupport[v]
	if !ok {
		return ""
	}
	std, _ := time.Parse(time.DateOnly, s.standardEnd)
	switch {
	case PastExtendedSupport(v, now):
		return fmt.Sprintf("kubernetesVersion %s is past EKS extended support (ended %s): AWS no longer creates "+
			"clusters at this version and upgrades existing ones; use it only to reproduce the reference", v, s.extendedEnd)
	case !now.Before(std):
		return fmt.Sprintf("kubernetesVersion %s is in EKS extended support until %s (standard support ended %s), "+
			"which AWS bills at a higher hourly rate", v, s.extendedEnd, s.standardEnd)
	}
	return ""
}
