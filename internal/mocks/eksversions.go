package mocks

import (
	"errors"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// EKSVersion is one entry of eks.getClusterVersions' answer, the fields AWS's DescribeClusterVersions returns
// (pulumi-aws v6.83.4's GetClusterVersionsClusterVersion): dates as RFC 3339 timestamps, status one of
// STANDARD_SUPPORT, EXTENDED_SUPPORT, UNSUPPORTED.
type EKSVersion struct {
	Version, Status                    string
	Released, StandardEnd, ExtendedEnd string
}

// EKSVersionsToday is what EKS answers on 2026-11-27 as the Amazon EKS release calendar gives it: the mocked
// account's versions, newest first.
var EKSVersionsToday = []EKSVersion{
	{"1.35", "STANDARD_SUPPORT", "2026-01-28T00:00:00Z", "2027-03-27T00:00:00Z", "2028-03-27T00:00:00Z"},
	{"1.34", "STANDARD_SUPPORT", "2025-10-06T00:00:00Z", "2026-12-02T00:00:00Z", "2027-12-02T00:00:00Z"},
	{"1.33", "EXTENDED_SUPPORT", "2025-05-28T00:00:00Z", "2026-07-29T00:00:00Z", "2027-07-29T00:00:00Z"},
	{"1.32", "EXTENDED_SUPPORT", "2025-01-25T00:00:00Z", "2026-03-23T00:00:00Z", "2027-03-23T00:00:00Z"},
	{"1.31", "UNSUPPORTED", "2024-09-26T00:00:00Z", "2025-11-26T00:00:00Z", "2026-11-26T00:00:00Z"},
	{"1.24", "UNSUPPORTED", "2022-11-15T00:00:00Z", "2024-01-31T00:00:00Z", "2025-01-31T00:00:00Z"},
}

// ErrEKSUnreachable is the invoke's failure when the mocked account cannot be asked.
var ErrEKSUnreachable = errors.New("operation error EKS: DescribeClusterVersions, https response error StatusCode: 0, no such host")

// clusterVersions answers aws:eks/getClusterVersions as AWS does: the versions asked for (all when none), the
// unsupported ones only with includeAll.
func (m *Monitor) clusterVersions(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if m.EKSUnreachable {
		return nil, ErrEKSUnreachable
	}
	versions := m.versions()
	var only []string
	if v, ok := args.Args["clusterVersionsOnlies"]; ok && v.IsArray() {
		for _, e := range v.ArrayValue() {
			only = append(only, e.StringValue())
		}
	}
	includeAll := false
	if v, ok := args.Args["includeAll"]; ok && v.IsBool() {
		includeAll = v.BoolValue()
	}
	var out []any
	for i, v := range versions {
		if (len(only) > 0 && !slices.Contains(only, v.Version)) || (v.Status == "UNSUPPORTED" && !includeAll) {
			continue
		}
		out = append(out, map[string]any{
			"clusterType": "eks", "clusterVersion": v.Version, "versionStatus": v.Status,
			"releaseDate": v.Released, "endOfStandardSupportDate": v.StandardEnd, "endOfExtendedSupportDate": v.ExtendedEnd,
			"defaultVersion": i == 1, "defaultPlatformVersion": "eks.1", "kubernetesPatchVersion": v.Version + ".0",
		})
	}
	return resource.NewPropertyMapFromMap(map[string]any{"id": "eks", "clusterVersions": out}), nil
}

// versions are the Kubernetes versions the mocked EKS knows.
func (m *Monitor) versions() []EKSVersion {
	if m.EKSVersions == nil {
		return EKSVersionsToday
	}
	return m.EKSVersions
}
