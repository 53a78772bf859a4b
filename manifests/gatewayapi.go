package manifests

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// GatewayClassName is the GatewayClass the kgateway controller creates and programs.
const GatewayClassName = "kgateway"

// GatewayParams are the stack values of the public Gateway.
type GatewayParams struct {
	Gateway
	// Hosts are the hosts the public listeners serve, one listener each.
	Hosts []string
	// RouteNamespaces are the only namespaces whose HTTPRoutes may attach (where Flagger writes the services').
	RouteNamespaces []string
}

// PublicGateway returns the Gateway of the public entry point: an HTTP listener on port 80 per service host (one
// host's listener is named http, several are named after their hosts), accepting routes from the services'
// namespaces only. kgateway gives it a LoadBalancer Service of the same name, which on EKS is an AWS load
// balancer, as Gloo's gateway-proxy was.
func PublicGateway(p GatewayParams) *gatewayv1.Gateway {
	fromSelector := gatewayv1.NamespacesFromSelector
	selector := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: namespaceNameLabel, Operator: metav1.LabelSelectorOpIn, Values: p.RouteNamespaces,
	}}}
	if len(p.RouteNamespaces) == 1 {
		selector = &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: p.RouteNamespaces[0]}}
	}
	var listeners []gatewayv1.Listener
	for _, host := range p.Hosts {
		// A listener without a hostname would take any Host, a wildcard on a public address.
		hostname := gatewayv1.Hostname(host)
		name := gatewayv1.SectionName(host)
		if len(p.Hosts) == 1 {
			name = "http"
		}
		listeners = append(listeners, gatewayv1.Listener{
			Name:          name,
			Protocol:      gatewayv1.HTTPProtocolType,
			Port:          80,
			Hostname:      &hostname,
			AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &fromSelector, Selector: selector}},
		})
	}
	return &gatewayv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace},
		Spec:       gatewayv1.GatewaySpec{GatewayClassName: GatewayClassName, Listeners: listeners},
	}
}

// namespaceNameLabel is the label Kubernetes sets on every namespace to its own name.
const namespaceNameLabel = "kubernetes.io/metadata.name"
