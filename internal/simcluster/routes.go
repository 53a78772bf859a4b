package simcluster

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// routeObjects is what the gateway stand-in routes by: the ingress's route objects and the Services they name,
// kept by watches, as Envoy's configuration is pushed to it by the ingress's controller. Read from the API server
// on every request instead, each request through the gateway cost up to six API calls (a cluster-wide LIST among
// them), for every request of several load tests at once: the likely (unproven) reason a 5% canary sometimes saw
// no traffic within a minute. A kind's watch starts after the first call that finds it served (its CRD may be
// installed after the cluster starts, or never); until its cache has synced, its objects are read live.
type routeObjects struct {
	live     dynamic.Interface
	factory  dynamicinformer.DynamicSharedInformerFactory
	services listerscorev1.ServiceLister
	stop     <-chan struct{}

	mu      sync.Mutex
	started map[schema.GroupVersionResource]bool
	synced  map[schema.GroupVersionResource]cache.GenericLister
}

func newRouteObjects(live dynamic.Interface, services listerscorev1.ServiceLister, stop <-chan struct{}) *routeObjects {
	return &routeObjects{live: live, factory: dynamicinformer.NewDynamicSharedInformerFactory(live, 0),
		services: services, stop: stop,
		started: map[schema.GroupVersionResource]bool{}, synced: map[schema.GroupVersionResource]cache.GenericLister{}}
}

// lister is gvr's synced cache, or nil while it is not watched or not yet synced.
func (r *routeObjects) lister(gvr schema.GroupVersionResource) cache.GenericLister {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.synced[gvr]
}

// watch starts gvr's informer once, after a live call found the kind served.
func (r *routeObjects) watch(gvr schema.GroupVersionResource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started[gvr] {
		return
	}
	r.started[gvr] = true
	informer := r.factory.ForResource(gvr)
	r.factory.Start(r.stop)
	go func() {
		if cache.WaitForCacheSync(r.stop, informer.Informer().HasSynced) {
			r.mu.Lock()
			r.synced[gvr] = informer.Lister()
			r.mu.Unlock()
		}
	}()
}

// list is every object of kind gvr in the cluster; none when the kind is not served.
func (r *routeObjects) list(ctx context.Context, gvr schema.GroupVersionResource) ([]*unstructured.Unstructured, error) {
	if l := r.lister(gvr); l != nil {
		objs, err := l.List(labels.Everything())
		if err != nil {
			return nil, err
		}
		out := make([]*unstructured.Unstructured, 0, len(objs))
		for _, o := range objs {
			if u, ok := o.(*unstructured.Unstructured); ok {
				out = append(out, u)
			}
		}
		return out, nil
	}
	list, err := r.live.Resource(gvr).Namespace("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil // not served: not this ingress
	}
	r.watch(gvr)
	out := make([]*unstructured.Unstructured, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// get is the object namespace/name of kind gvr, converted to into.
func (r *routeObjects) get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string, into any) error {
	var obj *unstructured.Unstructured
	if l := r.lister(gvr); l != nil {
		o, err := l.ByNamespace(namespace).Get(name)
		if err != nil {
			return err
		}
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			return apierrors.NewNotFound(gvr.GroupResource(), name)
		}
		obj = u
	} else {
		u, err := r.live.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		r.watch(gvr)
		obj = u
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, into)
}

// service is the Service namespace/name, from the data plane's watch.
func (r *routeObjects) service(namespace, name string) (*corev1.Service, error) {
	return r.services.Services(namespace).Get(name)
}
