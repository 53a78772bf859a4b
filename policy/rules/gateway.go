package rules

import (
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

const (
	gatewayType = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
	configFile  = "kubernetes:yaml/v2:ConfigFile"
)

// releaseDownload is a file of one tagged release, e.g. .../releases/download/v1.4.1/standard-install.yaml.
var releaseDownload = regexp.MustCompile(`/releases/download/v\d+\.\d+\.\d+/[^/]+$`)

var gatewayRules = []Rule{
	{
		Name: "gateway-listener-hostname", Source: "Gateway API v1 Listener.hostname: unset matches every host", Level: policyx.EnforcementLevelMandatory,
		Description: "Every listener of a Gateway names the one host it serves: no listener without a hostname and no wildcard hostname on a public entry point.",
		Check: forTypes(only(gatewayType), func(r Resource) []string {
			var out []string
			for _, l := range asList(get(r.Props, "spec", "listeners")) {
				host := get(l, "hostname")
				switch {
				case unknown(host):
				case str(host) == "":
					out = append(out, "listener "+str(get(l, "name"))+" has no hostname, so it takes any Host")
				case strings.Contains(str(host), "*"):
					out = append(out, "listener "+str(get(l, "name"))+" has the wildcard hostname "+str(host))
				}
			}
			return out
		}),
	},
	{
		Name: "gateway-routes-from-selected-namespaces", Source: "Gateway API security model, route attachment (allowedRoutes)", Level: policyx.EnforcementLevelMandatory,
		Description: "A Gateway's listeners accept routes only from selected namespaces, not from All, so no other team's route can take its traffic.",
		Check: forTypes(only(gatewayType), func(r Resource) []string {
			var out []string
			for _, l := range asList(get(r.Props, "spec", "listeners")) {
				from := get(l, "allowedRoutes", "namespaces", "from")
				if !unknown(from) && str(from) == "All" {
					out = append(out, "listener "+str(get(l, "name"))+" accepts routes from every namespace")
				}
			}
			return out
		}),
	},
	{
		Name: "gateway-api-crds-pinned", Source: "Gateway API docs, installing the CRDs of one release", Level: policyx.EnforcementLevelMandatory,
		Description: "CRD manifests are installed from one tagged release (…/releases/download/vX.Y.Z/…), never from a branch or `latest`.",
		Check: forTypes(only(configFile), func(r Resource) []string {
			file := r.Props["file"]
			return when(!unknown(file) && strings.Contains(str(file), "://") && !releaseDownload.MatchString(str(file)),
				"%s is not a file of one tagged release", str(file))
		}),
	},
}
