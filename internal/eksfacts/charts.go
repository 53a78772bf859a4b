package eksfacts

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// chartKubernetes is the Kubernetes range (minor numbers) each chart series supports, from the chart's own
// support table; a series not listed is not checked.
var chartKubernetes = map[string]struct{ min, max int }{
	// solo-io/gloo docs/content/reference/support.md
	"gloo 1.19": {28, 32},
	"gloo 1.22": {31, 36},
	// kgateway.dev docs, reference/versions
	"kgateway v2.0": {27, 31},
	"kgateway v2.1": {31, 34},
	"kgateway v2.2": {31, 35},
}

// ChartSupport is what chart's support table says of Kubernetes version kubernetes ("1.NN") for the chart version
// version: its series ("v2.2"), the range the series supports, and whether it includes kubernetes. Known is false
// when the series has no table here (then nothing is checked).
type ChartSupport struct {
	Series           string
	Min, Max         int
	Known, Supported bool
}

// ChartSupports reads chart's support table for version at kubernetes.
func ChartSupports(chart, version, kubernetes string) ChartSupport {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return ChartSupport{}
	}
	series := parts[0] + "." + parts[1]
	r, known := chartKubernetes[chart+" "+series]
	minor := Minor(kubernetes)
	return ChartSupport{Series: series, Min: r.min, Max: r.max, Known: known,
		Supported: !known || minor < 0 || (minor >= r.min && minor <= r.max)}
}

// Range is the supported range as "1.31 to 1.35".
func (s ChartSupport) Range() string { return fmt.Sprintf("1.%d to 1.%d", s.Min, s.Max) }

// ChartSeriesFor is the newest series of chart whose support table includes kubernetes, or "" when none here does.
func ChartSeriesFor(chart, kubernetes string) string {
	minor := Minor(kubernetes)
	var fits []string
	for key, r := range chartKubernetes {
		series, ok := strings.CutPrefix(key, chart+" ")
		if ok && minor >= r.min && minor <= r.max {
			fits = append(fits, series)
		}
	}
	slices.SortFunc(fits, func(a, b string) int { return seriesMinor(a) - seriesMinor(b) })
	if len(fits) == 0 {
		return ""
	}
	return fits[len(fits)-1]
}

// seriesMinor is the minor number of a series "v2.2" or "1.22", for ordering within one chart.
func seriesMinor(series string) int {
	_, minor, _ := strings.Cut(series, ".")
	n, _ := strconv.Atoi(minor)
	return n
}

// NewestChartKubernetes is the newest Kubernetes any series of chart supports, as "1.NN", or "".
func NewestChartKubernetes(chart string) string {
	newest := -1
	for key, r := range chartKubernetes {
		if strings.HasPrefix(key, chart+" ") {
			newest = max(newest, r.max)
		}
	}
	if newest < 0 {
		return ""
	}
	return Version(newest)
}
