package simcluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node describes a fake node kwok plays the kubelet of.
type Node struct {
	Name, Zone, InstanceType, NodeGroup string
	CPU, Memory                         string
	Pods                                int
}

// DevNodes are the dev stack's two m5.2xlarge managed nodes, one per zone (8 vCPU, 32 GiB, 58 pods with the
// VPC CNI's per-ENI limit).
func DevNodes() []Node {
	nodes := make([]Node, 0, 2)
	for i, zone := range []string{"us-west-1a", "us-west-1b"} {
		nodes = append(nodes, Node{
			Name: fmt.Sprintf("ip-192-168-%d-10.us-west-1.compute.internal", 96+32*i),
			Zone: zone, InstanceType: "m5.2xlarge", NodeGroup: "nodegroup",
			CPU: "8", Memory: "32Gi", Pods: 58,
		})
	}
	return nodes
}

// fakeNodeAnnotation selects the nodes kwok manages (--manage-nodes-with-annotation-selector).
const fakeNodeAnnotation = "kwok.x-k8s.io/node"

// object is the Node as EKS registers it: the managed node group's labels, zone and instance type.
func (n Node) object() *corev1.Node {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(n.CPU),
		corev1.ResourceMemory: resource.MustParse(n.Memory),
		corev1.ResourcePods:   *resource.NewQuantity(int64(n.Pods), resource.DecimalSI),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        n.Name,
			Annotations: map[string]string{fakeNodeAnnotation: "fake"},
			Labels: map[string]string{
				"kubernetes.io/hostname":           n.Name,
				"kubernetes.io/os":                 "linux",
				"kubernetes.io/arch":               "amd64",
				"node.kubernetes.io/instance-type": n.InstanceType,
				"topology.kubernetes.io/zone":      n.Zone,
				"topology.kubernetes.io/region":    n.Zone[:len(n.Zone)-1],
				"eks.amazonaws.com/nodegroup":      n.NodeGroup,
				"eks.amazonaws.com/capacityType":   "ON_DEMAND",
				"type":                             "kwok",
			},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
}

// addNodes registers the fake nodes and waits until kwok reports them Ready.
func (c *Cluster) addNodes(ctx context.Context, nodes []Node) error {
	for _, n := range nodes {
		if _, err := c.Core.CoreV1().Nodes().Create(ctx, n.object(), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating node %s: %w", n.Name, err)
		}
	}
	return c.poll(ctx, time.Minute, "nodes Ready (kwok)", func(ctx context.Context) (bool, error) {
		for _, n := range nodes {
			node, err := c.Core.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil || !nodeReady(node) {
				return false, nil
			}
		}
		return true, nil
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}
