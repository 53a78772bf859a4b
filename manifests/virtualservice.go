package manifests

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// GlooVirtualService is Gloo's gateway.solo.io/v1 VirtualService, written from Gloo's API reference (the Gloo
// module is not served by the Go module proxy), for the fields a route-delegating VirtualService uses.
type GlooVirtualService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              GlooVirtualServiceSpec `json:"spec"`
}

// GlooVirtualServiceSpec is the VirtualService's spec.
type GlooVirtualServiceSpec struct {
	DisplayName string          `json:"displayName,omitempty"`
	VirtualHost GlooVirtualHost `json:"virtualHost"`
}

// GlooVirtualHost is the domains a VirtualService serves and its routes.
type GlooVirtualHost struct {
	Domains []string    `json:"domains"`
	Routes  []GlooRoute `json:"routes"`
}

// GlooRoute is one route: matchers and either a delegation to a RouteTable or a route to one upstream.
type GlooRoute struct {
	Name           string              `json:"name,omitempty"`
	Matchers       []GlooMatcher       `json:"matchers"`
	DelegateAction *GlooDelegateAction `json:"delegateAction,omitempty"`
	RouteAction    *GlooRouteAction    `json:"routeAction,omitempty"`
}

// GlooRouteAction sends matching requests to a destination.
type GlooRouteAction struct {
	Single *GlooDestination `json:"single,omitempty"`
}

// GlooDestination is one upstream.
type GlooDestination struct {
	Upstream *GlooResourceRef `json:"upstream,omitempty"`
}

// GlooMatcher matches requests by path and method.
type GlooMatcher struct {
	Prefix        string   `json:"prefix,omitempty"`
	Exact         string   `json:"exact,omitempty"`
	Regex         string   `json:"regex,omitempty"`
	Methods       []string `json:"methods,omitempty"`
	CaseSensitive *bool    `json:"caseSensitive,omitempty"`
}

// GlooDelegateAction hands matching requests to a RouteTable.
type GlooDelegateAction struct {
	Ref *GlooResourceRef `json:"ref,omitempty"`
}

// GlooResourceRef names an object in a namespace.
type GlooResourceRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}
