package infra

import (
	"testing"

	"github.com/progressive-delivery/platform/internal/graph"
	"github.com/progressive-delivery/platform/internal/mocks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSubnetCIDRs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		cidr                 string
		zones                int
		wantPublic, wantPriv []string
		wantErr              string
	}{
		{name: "eksctl layout for two zones", cidr: "192.168.0.0/16", zones: 2,
			wantPublic: []string{"192.168.0.0/19", "192.168.32.0/19"},
			wantPriv:   []string{"192.168.64.0/19", "192.168.96.0/19"}},
		{name: "three zones", cidr: "10.0.0.0/16", zones: 3,
			wantPublic: []string{"10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"},
			wantPriv:   []string{"10.0.96.0/19", "10.0.128.0/19", "10.0.160.0/19"}},
		{name: "four zones fill a /20", cidr: "10.1.0.0/20", zones: 4,
			wantPublic: []string{"10.1.0.0/23", "10.1.2.0/23", "10.1.4.0/23", "10.1.6.0/23"},
			wantPriv:   []string{"10.1.8.0/23", "10.1.10.0/23", "10.1.12.0/23", "10.1.14.0/23"}},
		{name: "not a network address", cidr: "192.168.1.0/16", zones: 2, wantErr: "IPv4 network CIDR"},
		{name: "too large", cidr: "10.0.0.0/8", zones: 2, wantErr: "between /16 and /24"},
		{name: "too many zones", cidr: "10.0.0.0/16", zones: 5, wantErr: "1 to 4 zones"},
		{name: "IPv6", cidr: "fd00::/56", zones: 2, wantErr: "IPv4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pub, priv, err := SubnetCIDRs(tt.cidr, tt.zones)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantPublic, pub)
			assert.Equal(t, tt.wantPriv, priv)
		})
	}
}

func runNetwork(t *testing.T, args *NetworkArgs) (*graph.Graph, *Network) {
	t.Helper()
	var net *Network
	g, _ := mocks.MustRun(t, mocks.RunConfig{}, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		var err error
		net, err = NewNetwork(ctx, "network", args)
		return nil, err
	})
	return g, net
}

func TestNetwork_SubnetsTagsAndSingleNAT(t *testing.T) {
	t.Parallel()
	g, net := runNetwork(t, &NetworkArgs{CIDR: "192.168.0.0/16", Zones: []string{"us-west-1a", "us-west-1b"}, ClusterName: "ps-eks-66"})

	component := g.MustOne(t, TypeNetwork, "network")
	for _, r := range g.Order {
		if r.URN != component.URN {
			assert.Equal(t, component.URN, r.Parent, "%s must be parented to the Network", r.Name)
		}
	}
	vpc := g.MustOne(t, "aws:ec2/vpc:Vpc", "network-vpc")
	assert.Equal(t, "192.168.0.0/16", graph.MustLookup(t, vpc.Inputs, "cidrBlock"))
	assert.Equal(t, true, graph.MustLookup(t, vpc.Inputs, "enableDnsHostnames"))

	subnets := map[string]struct{ cidr, role string }{
		"network-public-us-west-1a":  {"192.168.0.0/19", "kubernetes.io/role/elb"},
		"network-public-us-west-1b":  {"192.168.32.0/19", "kubernetes.io/role/elb"},
		"network-private-us-west-1a": {"192.168.64.0/19", "kubernetes.io/role/internal-elb"},
		"network-private-us-west-1b": {"192.168.96.0/19", "kubernetes.io/role/internal-elb"},
	}
	require.Len(t, g.Find("aws:ec2/subnet:Subnet"), len(subnets))
	for name, want := range subnets {
		s := g.MustOne(t, "aws:ec2/subnet:Subnet", name)
		assert.Equal(t, want.cidr, graph.MustLookup(t, s.Inputs, "cidrBlock"), name)
		tags := graph.MustLookup(t, s.Inputs, "tags").(map[string]any)
		assert.Equal(t, "1", tags[want.role], "%s role tag", name)
		assert.Equal(t, "shared", tags["kubernetes.io/cluster/ps-eks-66"], "%s cluster tag", name)
	}
	assert.Len(t, g.Find("aws:ec2/natGateway:NatGateway"), 1, "one NAT gateway by default, as eksctl")
	nat := g.Find("aws:ec2/natGateway:NatGateway")[0]
	assert.True(t, g.DependsOn(nat.URN, g.MustOne(t, "aws:ec2/internetGateway:InternetGateway", "network-igw").URN),
		"the NAT gateway waits for the internet gateway")

	// Each private subnet's default route goes through the NAT gateway, and those routes are what nodes wait for.
	for _, zone := range []string{"us-west-1a", "us-west-1b"} {
		route := g.MustOne(t, "aws:ec2/route:Route", "network-private-default-"+zone)
		assert.Equal(t, "0.0.0.0/0", graph.MustLookup(t, route.Inputs, "destinationCidrBlock"))
		assert.Equal(t, nat.Name+"-id", graph.MustLookup(t, route.Inputs, "natGatewayId"))
	}
	assert.Len(t, net.EgressRoutes, 4, "two routes and two associations")
}

func TestNetwork_NATPerZone(t *testing.T) {
	t.Parallel()
	g, _ := runNetwork(t, &NetworkArgs{CIDR: "10.0.0.0/16", Zones: []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"},
		ClusterName: "prod", NATPerZone: true})
	nats := g.Find("aws:ec2/natGateway:NatGateway")
	require.Len(t, nats, 3)
	for _, zone := range []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"} {
		route := g.MustOne(t, "aws:ec2/route:Route", "network-private-default-"+zone)
		assert.Equal(t, "network-nat-"+zone+"-id", graph.MustLookup(t, route.Inputs, "natGatewayId"),
			"zone %s egresses through its own NAT gateway", zone)
	}
}

func TestNetwork_RejectsMissingArgs(t *testing.T) {
	t.Parallel()
	_, err := mocks.Run(func(ctx *pulumi.Context) error {
		_, err := NewNetwork(ctx, "network", nil)
		return err
	}, mocks.RunConfig{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CIDR, Zones and ClusterName are required")
}
