package eksfacts

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The rules of an EKS Kubernetes version change, each with where it is written. The program checks a change
// against them at preview, before AWS is asked; docs/upgrades.md explains them to a person.
const (
	// OneMinorAtATime: "you can update only one minor version at a time" (EKS User Guide, "Update existing cluster
	// to new Kubernetes version"); eksctl upgrade cluster accepts "only ... the current version of the cluster or
	// one version higher" (eksctl docs, "Cluster upgrades").
	OneMinorAtATime = "EKS User Guide, \"Update existing cluster to new Kubernetes version\": one minor version at a time"
	// NodeGroupsMatchFirst: "all of your node groups' Kubernetes versions must match the cluster's Kubernetes
	// version in order to update the cluster to a new Kubernetes version" (EKS API Reference, UpdateClusterVersion);
	// a node's kubelet may be older than the API server, never newer (Kubernetes version skew policy).
	NodeGroupsMatchFirst = "EKS API Reference, UpdateClusterVersion: node groups must match the cluster before it is updated"
	// RollbackRule: a control plane goes back one minor version only, within 7 days of an in-place upgrade;
	// managed node groups are rolled back separately (UpdateNodegroupVersion), and EKS add-on versions "remain
	// unchanged" (EKS User Guide, "Rollback cluster to previous Kubernetes version").
	RollbackRule = "EKS User Guide, \"Rollback cluster to previous Kubernetes version\": N-1 only, within 7 days of an in-place upgrade"
	// RollbackWindowDays is that window.
	RollbackWindowDays = 7
	// AddonsNotUpdated: updating a cluster does not update its add-ons; each is updated on its own, to a version
	// that supports the new Kubernetes version (EKS User Guide, "Update an Amazon EKS add-on").
	AddonsNotUpdated = "EKS User Guide, \"Update an Amazon EKS add-on\": a cluster update does not update its add-ons"
)

// ManagedAddons are the EKS add-ons every cluster needs and the program owns: the ones EKS installs on a new
// cluster itself (EKS User Guide, "Amazon EKS add-ons": vpc-cni, coredns and kube-proxy), as EKS names them.
var ManagedAddons = []string{"vpc-cni", "coredns", "kube-proxy"}

// Minor is the minor number of a "1.NN" version, or -1.
func Minor(v string) int {
	rest, ok := strings.CutPrefix(v, "1.")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil {
		return -1
	}
	return n
}

// Version is the "1.NN" of a minor number.
func Version(minor int) string { return fmt.Sprintf("1.%d", minor) }

// removedAPIs are what each Kubernetes release stopped serving: an API version ("group/version") for all its
// kinds, or "group/version/Kind" for one. Through v1.32 from the Kubernetes "Deprecated API Migration Guide"
// (kubernetes.io/docs/reference/using-api/deprecation-guide/); v1.37's from its release's removals, which the
// upgrade issue quotes: storage.k8s.io/v1beta1, networking.k8s.io/v1beta1 (IPAddress, ServiceCIDR) and
// certificates.k8s.io/v1alpha1 (ClusterTrustBundle). Two API versions lost kinds in one release and came back
// with new kinds later (networking.k8s.io/v1beta1's Ingress went in v1.22, its ServiceCIDR came in v1.31), so
// those are listed by kind until the version went whole.
var removedAPIs = map[string][]string{
	"1.16": {"apps/v1beta1", "apps/v1beta2", "extensions/v1beta1/DaemonSet", "extensions/v1beta1/Deployment",
		"extensions/v1beta1/ReplicaSet", "extensions/v1beta1/NetworkPolicy", "extensions/v1beta1/PodSecurityPolicy"},
	"1.22": {"extensions/v1beta1", "admissionregistration.k8s.io/v1beta1", "apiextensions.k8s.io/v1beta1",
		"apiregistration.k8s.io/v1beta1", "authentication.k8s.io/v1beta1", "authorization.k8s.io/v1beta1",
		"certificates.k8s.io/v1beta1", "coordination.k8s.io/v1beta1", "rbac.authorization.k8s.io/v1beta1",
		"scheduling.k8s.io/v1beta1", "networking.k8s.io/v1beta1/Ingress", "networking.k8s.io/v1beta1/IngressClass",
		"storage.k8s.io/v1beta1/CSIDriver", "storage.k8s.io/v1beta1/CSINode", "storage.k8s.io/v1beta1/StorageClass",
		"storage.k8s.io/v1beta1/VolumeAttachment"},
	"1.25": {"batch/v1beta1", "discovery.k8s.io/v1beta1", "events.k8s.io/v1beta1", "autoscaling/v2beta1",
		"policy/v1beta1", "node.k8s.io/v1beta1"},
	"1.26": {"flowcontrol.apiserver.k8s.io/v1beta1", "autoscaling/v2beta2"},
	"1.27": {"storage.k8s.io/v1beta1/CSIStorageCapacity"},
	"1.29": {"flowcontrol.apiserver.k8s.io/v1beta2"},
	"1.32": {"flowcontrol.apiserver.k8s.io/v1beta3"},
	"1.37": {"storage.k8s.io/v1beta1", "networking.k8s.io/v1beta1", "certificates.k8s.io/v1alpha1"},
}

// RemovedAPIsThrough is the newest release the removal table covers: the Kubernetes the platform is tested on
// (the simulated cluster's 1.37), newer than any EKS offers today.
const RemovedAPIsThrough = "1.37"

// RemovedIn is the first release that stopped serving kind in apiVersion ("group/version", or "v1" for the core
// group), or "" when none up to RemovedAPIsThrough did.
func RemovedIn(apiVersion, kind string) string {
	releases := make([]string, 0, len(removedAPIs))
	for r := range removedAPIs {
		releases = append(releases, r)
	}
	slices.SortFunc(releases, func(a, b string) int { return Minor(a) - Minor(b) })
	for _, r := range releases {
		if slices.Contains(removedAPIs[r], apiVersion) || slices.Contains(removedAPIs[r], apiVersion+"/"+kind) {
			return r
		}
	}
	return ""
}
