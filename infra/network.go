package infra

import (
	"fmt"
	"net/netip"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeNetwork is the type token of Network.
const TypeNetwork = "progressive-delivery:infra:Network"

// subnetBits splits the VPC into eight equal blocks, as eksctl does (a /16 gives /19 subnets): public subnets take
// the first blocks, private subnets the blocks after them, so up to four zones fit.
const subnetBits = 3

// MaxZones is the number of zones whose subnets fit in the VPC.
const MaxZones = 1 << subnetBits / 2

// Network is a dedicated VPC with a public and a private subnet per zone, an internet gateway and NAT.
type Network struct {
	pulumi.ResourceState

	VpcID            pulumi.StringOutput      `pulumi:"vpcId"`
	PublicSubnetIDs  pulumi.StringArrayOutput `pulumi:"publicSubnetIds"`
	PrivateSubnetIDs pulumi.StringArrayOutput `pulumi:"privateSubnetIds"`
	// EgressRoutes are the private subnets' default routes through NAT and their route table associations. Nodes need them to pull images and reach
	// the EKS endpoint, so node groups wait for them; the control plane does not.
	EgressRoutes []pulumi.Resource
}

// NetworkArgs configures a Network.
type NetworkArgs struct {
	// Required. IPv4 CIDR of the VPC, e.g. 192.168.0.0/16.
	CIDR string
	// Required. Two to four availability zones of the stack's region.
	Zones []string
	// Required. EKS cluster name, for the kubernetes.io/cluster/<name> subnet tag.
	ClusterName string
	// Optional; default false (one NAT gateway, as eksctl makes). True gives each zone its own NAT gateway, so
	// losing a zone does not cut the other zones' egress.
	NATPerZone bool
	// Optional. Tags for every resource.
	Tags map[string]string
}

// SubnetCIDRs returns the public and private subnet CIDRs for n zones of the VPC cidr.
func SubnetCIDRs(cidr string, n int) (public, private []string, err error) {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || !prefix.Addr().Is4() || prefix.Masked() != prefix {
		return nil, nil, fmt.Errorf("want an IPv4 network CIDR such as 192.168.0.0/16, got %q", cidr)
	}
	if prefix.Bits() < 16 || prefix.Bits() > 24 {
		return nil, nil, fmt.Errorf("want a prefix length between /16 and /24 (AWS VPC limits, eight subnets), got %q", cidr)
	}
	if n < 1 || n > MaxZones {
		return nil, nil, fmt.Errorf("want 1 to %d zones, got %d", MaxZones, n)
	}
	bits := prefix.Bits() + subnetBits
	size := uint32(1) << (32 - bits)
	base := prefix.Addr().As4()
	start := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	block := func(i int) string {
		a := start + uint32(i)*size
		addr := netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
		return netip.PrefixFrom(addr, bits).String()
	}
	for i := 0; i < n; i++ {
		public = append(public, block(i))
		private = append(private, block(n+i))
	}
	return public, private, nil
}

// NewNetwork creates the VPC, subnets, gateways and routes.
func NewNetwork(ctx *pulumi.Context, name string, args *NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	if args == nil || args.CIDR == "" || len(args.Zones) == 0 || args.ClusterName == "" {
		return nil, fmt.Errorf("network %s: CIDR, Zones and ClusterName are required", name)
	}
	publicCIDRs, privateCIDRs, err := SubnetCIDRs(args.CIDR, len(args.Zones))
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", name, err)
	}
	n := &Network{}
	if err := ctx.RegisterComponentResource(TypeNetwork, name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)
	tags := func(role string, extra map[string]string) pulumi.StringMap {
		m := pulumi.StringMap{"Name": pulumi.String(args.ClusterName + "-" + role)}
		for k, v := range args.Tags {
			m[k] = pulumi.String(v)
		}
		for k, v := range extra {
			m[k] = pulumi.String(v)
		}
		return m
	}
	clusterTag := "kubernetes.io/cluster/" + args.ClusterName

	vpc, err := ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock: pulumi.String(args.CIDR),
		// EKS requires DNS support and hostnames for nodes to register and for the private endpoint to resolve.
		EnableDnsSupport:   pulumi.Bool(true),
		EnableDnsHostnames: pulumi.Bool(true),
		Tags:               tags("vpc", nil),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating VPC: %w", err)
	}
	igw, err := ec2.NewInternetGateway(ctx, name+"-igw", &ec2.InternetGatewayArgs{
		VpcId: vpc.ID(),
		Tags:  tags("igw", nil),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating internet gateway: %w", err)
	}
	publicRT, err := ec2.NewRouteTable(ctx, name+"-public-rt", &ec2.RouteTableArgs{
		VpcId: vpc.ID(),
		Tags:  tags("public", nil),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating public route table: %w", err)
	}
	if _, err := ec2.NewRoute(ctx, name+"-public-default", &ec2.RouteArgs{
		RouteTableId:         publicRT.ID(),
		DestinationCidrBlock: pulumi.String("0.0.0.0/0"),
		GatewayId:            igw.ID(),
	}, parent); err != nil {
		return nil, fmt.Errorf("creating public default route: %w", err)
	}

	var publicIDs, privateIDs pulumi.StringArray
	var nat *ec2.NatGateway
	for i, zone := range args.Zones {
		public, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-public-%s", name, zone), &ec2.SubnetArgs{
			VpcId:               vpc.ID(),
			AvailabilityZone:    pulumi.String(zone),
			CidrBlock:           pulumi.String(publicCIDRs[i]),
			MapPublicIpOnLaunch: pulumi.Bool(true),
			Tags:                tags("public-"+zone, map[string]string{"kubernetes.io/role/elb": "1", clusterTag: "shared"}),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating public subnet in %s: %w", zone, err)
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-public-%s", name, zone), &ec2.RouteTableAssociationArgs{
			SubnetId:     public.ID(),
			RouteTableId: publicRT.ID(),
		}, parent); err != nil {
			return nil, fmt.Errorf("associating public subnet in %s: %w", zone, err)
		}
		publicIDs = append(publicIDs, public.ID().ToStringOutput())

		if nat == nil || args.NATPerZone {
			eip, err := ec2.NewEip(ctx, fmt.Sprintf("%s-nat-%s", name, zone), &ec2.EipArgs{
				Domain: pulumi.String("vpc"),
				Tags:   tags("nat-"+zone, nil),
			}, parent)
			if err != nil {
				return nil, fmt.Errorf("allocating NAT address in %s: %w", zone, err)
			}
			// A NAT gateway in a public subnet only forwards once the VPC has its internet gateway.
			nat, err = ec2.NewNatGateway(ctx, fmt.Sprintf("%s-nat-%s", name, zone), &ec2.NatGatewayArgs{
				AllocationId: eip.ID(),
				SubnetId:     public.ID(),
				Tags:         tags("nat-"+zone, nil),
			}, parent, pulumi.DependsOn([]pulumi.Resource{igw}))
			if err != nil {
				return nil, fmt.Errorf("creating NAT gateway in %s: %w", zone, err)
			}
		}

		private, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-private-%s", name, zone), &ec2.SubnetArgs{
			VpcId:            vpc.ID(),
			AvailabilityZone: pulumi.String(zone),
			CidrBlock:        pulumi.String(privateCIDRs[i]),
			Tags:             tags("private-"+zone, map[string]string{"kubernetes.io/role/internal-elb": "1", clusterTag: "shared"}),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating private subnet in %s: %w", zone, err)
		}
		privateRT, err := ec2.NewRouteTable(ctx, fmt.Sprintf("%s-private-%s", name, zone), &ec2.RouteTableArgs{
			VpcId: vpc.ID(),
			Tags:  tags("private-"+zone, nil),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating private route table in %s: %w", zone, err)
		}
		route, err := ec2.NewRoute(ctx, fmt.Sprintf("%s-private-default-%s", name, zone), &ec2.RouteArgs{
			RouteTableId:         privateRT.ID(),
			DestinationCidrBlock: pulumi.String("0.0.0.0/0"),
			NatGatewayId:         nat.ID(),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating private default route in %s: %w", zone, err)
		}
		association, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-private-%s", name, zone), &ec2.RouteTableAssociationArgs{
			SubnetId:     private.ID(),
			RouteTableId: privateRT.ID(),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("associating private subnet in %s: %w", zone, err)
		}
		privateIDs = append(privateIDs, private.ID().ToStringOutput())
		n.EgressRoutes = append(n.EgressRoutes, route, association)
	}

	n.VpcID = vpc.ID().ToStringOutput()
	n.PublicSubnetIDs = publicIDs.ToStringArrayOutput()
	n.PrivateSubnetIDs = privateIDs.ToStringArrayOutput()
	if err := ctx.RegisterResourceOutputs(n, pulumi.Map{
		"vpcId":            n.VpcID,
		"publicSubnetIds":  n.PublicSubnetIDs,
		"privateSubnetIds": n.PrivateSubnetIDs,
	}); err != nil {
		return nil, err
	}
	return n, nil
}
