package eksfacts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckKubernetesVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version string
		wantErr string
	}{
		{"1.24", ""}, {"1.32", ""}, {"1.40", ""},
		{"1.2", "of the form 1.NN"}, {"1.24.3", "of the form 1.NN"}, {"v1.24", "of the form 1.NN"},
		{"2.24", "of the form 1.NN"}, {"", "of the form 1.NN"}, {"1.22", "1.23 or later"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			t.Parallel()
			err := CheckKubernetesVersion(tt.version)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestSupportWarning(t *testing.T) {
	t.Parallel()
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	tests := []struct {
		name, version string
		now           time.Time
		want          string
	}{
		{"1.24 past extended support", "1.24", day("2026-11-25"), "past EKS extended support (ended 2025-01-31; this program's EKS calendar as of 2026-11-27)"},
		{"1.24 on its last day still warns extended", "1.24", day("2025-01-30"), "in EKS extended support until 2025-01-31"},
		{"1.24 in standard support", "1.24", day("2023-06-01"), ""},
		{"1.32 in extended support", "1.32", day("2026-11-25"), "extended support until 2027-03-23"},
		{"1.33 in standard support", "1.33", day("2026-05-01"), ""},
		{"unknown future version", "1.40", day("2026-11-25"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := SupportWarning(tt.version, tt.now)
			if tt.want == "" {
				assert.Empty(t, got)
				return
			}
			assert.Contains(t, got, tt.want)
		})
	}
}

func TestPastExtendedSupport(t *testing.T) {
	t.Parallel()
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	assert.True(t, PastExtendedSupport("1.24", day("2025-01-31")), "EKS stops creating 1.24 on the day extended support ends")
	assert.False(t, PastExtendedSupport("1.24", day("2025-01-30")))
	assert.False(t, PastExtendedSupport("1.32", day("2026-11-25")))
	assert.False(t, PastExtendedSupport("1.40", day("2026-11-25")), "a version newer than the calendar is not refused")
}

func TestFromCalendar_StatusByDay(t *testing.T) {
	t.Parallel()
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	s, ok := FromCalendar("1.35", day("2026-11-27"))
	require.True(t, ok)
	assert.Equal(t, StandardSupport, s.Status)
	assert.Empty(t, s.Warning())
	s, _ = FromCalendar("1.33", day("2026-11-27"))
	assert.Equal(t, ExtendedSupport, s.Status)
	assert.Contains(t, s.Warning(), "$0.60 per cluster-hour instead of $0.10")
	s, _ = FromCalendar("1.31", day("2026-11-27"))
	assert.Equal(t, Unsupported, s.Status, "1.31's extended support ended 2026-11-26")
	_, ok = FromCalendar("1.40", day("2026-11-27"))
	assert.False(t, ok)
}
