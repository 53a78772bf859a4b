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
	// Domain is the one host the public listener serves.
	Domain string
	// RouteNamespace is the only namespace whose HTTPRoutes may attach (where Flagger writes podinfo's).
	RouteNamespace string
}

// PublicGateway returns the Gateway of the public entry point: one HTTP listener on port 80 for the stack's
// domain only, accepting routes from the app's namespace only. kgateway gives it a LoadBalancer Service of the
// same name, which on EKS is an AWS load balancer, as Gloo's gateway-proxy was.
func PublicGateway(p GatewayParams) *gatewayv1.Gateway {
	hostname := gatewayv1.Hostname(p.Domain)
	fromSelector := gatewayv1.NamespacesFromSelector
	return &gatewayv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: GatewayClassName,
			Listeners: []gatewayv1.Listener{{
				Name:     "http",
				Protocol: gatewayv1.HTTPProtocolType,
				Port:     80,
				// A listener without a hostname would take any Host, a wildcard on a public address.
				Hostname: &hostname,
				AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{
					From: &fromSelector,
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{
						"kubernetes.io/metadata.name": p.RouteNamespace,
					}},
				}},
			}},
		},
	}
}
