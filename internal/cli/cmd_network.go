package cli

import (
	"context"
	"fmt"
	"net/netip"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// networkPruneWarning is the confirmation text of `network prune`.
const networkPruneWarning = "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?"

func (c *CLI) newNetworkGroup() *cobra.Command {
	g := newCommand("network", "Manage networks", noArgs, showHelp)
	g.AddCommand(c.newNetworkConnectCommand(), c.newNetworkCreateCommand(), c.newNetworkDisconnectCommand(),
		c.newNetworkInspectCommand(), c.newNetworkLsCommand(), c.newNetworkPruneCommand(), c.newNetworkRmCommand())
	return g
}

func (c *CLI) newNetworkCreateCommand() *cobra.Command {
	var (
		driver, scope, configFrom, ipamDriver              string
		internal, ipv4, ipv6, attachable, ingress, cfgOnly bool
		subnets, ipRanges, gateways                        []string
		opts, ipamOpts, auxAddrs                           optMap
		labels                                             labelList
	)
	cmd := newCommand("create [OPTIONS] NETWORK", "Create a network", exactArgs(1),
		func(cmd *cobra.Command, args []string) error {
			ipam, err := buildIPAM(ipamOptions{driver: ipamDriver, subnets: subnets, ipRanges: ipRanges,
				gateways: gateways, auxAddrs: auxAddrs.Map(), driverOpt: ipamOpts.Map()})
			if err != nil {
				return err
			}
			req := client.NetworkCreateOptions{
				Driver: driver, Scope: scope, IPAM: ipam, Internal: internal, Attachable: attachable,
				Ingress: ingress, ConfigOnly: cfgOnly, ConfigFrom: configFrom, Options: opts.Map(), Labels: labels.Map(),
			}
			if cmd.Flags().Changed("ipv4") {
				req.EnableIPv4 = &ipv4
			}
			if cmd.Flags().Changed("ipv6") {
				req.EnableIPv6 = &ipv6
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			res, err := api.NetworkCreate(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			for _, w := range res.Warning {
				fmt.Fprintln(c.err, w)
			}
			fmt.Fprintln(c.out, res.ID)
			return nil
		})
	fs := cmd.Flags()
	fs.BoolVar(&attachable, "attachable", false, "Enable manual container attachment")
	fs.Var(&auxAddrs, "aux-address", "Auxiliary IPv4 or IPv6 addresses used by Network driver")
	fs.StringVar(&configFrom, "config-from", "", "The network from which to copy the configuration")
	fs.BoolVar(&cfgOnly, "config-only", false, "Create a configuration only network")
	fs.StringVarP(&driver, "driver", "d", "bridge", "Driver to manage the Network")
	fs.StringSliceVar(&gateways, "gateway", nil, "IPv4 or IPv6 Gateway for the master subnet")
	fs.BoolVar(&ingress, "ingress", false, "Create swarm routing-mesh network")
	fs.BoolVar(&internal, "internal", false, "Restrict external access to the network")
	fs.StringSliceVar(&ipRanges, "ip-range", nil, "Allocate container ip from a sub-range")
	fs.StringVar(&ipamDriver, "ipam-driver", "default", "IP Address Management Driver")
	fs.Var(&ipamOpts, "ipam-opt", "Set IPAM driver specific options")
	fs.BoolVar(&ipv4, "ipv4", true, "Enable or disable IPv4 address assignment")
	fs.BoolVar(&ipv6, "ipv6", false, "Enable or disable IPv6 address assignment")
	fs.Var(&labels, "label", "Set metadata on a network")
	fs.VarP(&opts, "opt", "o", "Set driver specific options")
	fs.StringVar(&scope, "scope", "", "Control the network's scope")
	fs.StringSliceVar(&subnets, "subnet", nil, "Subnet in CIDR format that represents a network segment")
	return cmd
}

func (c *CLI) newNetworkInspectCommand() *cobra.Command {
	var format string
	var verbose bool
	cmd := newCommand("inspect [OPTIONS] NETWORK [NETWORK...]", "Display detailed information on one or more networks", minArgs(1),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			return c.inspectEach(args, format, func(ref string) (any, []byte, error) {
				res, err := api.NetworkInspect(cmd.Context(), ref, client.NetworkInspectOptions{Verbose: verbose})
				return res.Network, res.Raw, err
			})
		})
	fs := cmd.Flags()
	fs.StringVarP(&format, "format", "f", "", inspectFormatHelp)
	fs.BoolVarP(&verbose, "verbose", "v", false, "Verbose output for diagnostics")
	return cmd
}

func (c *CLI) newNetworkLsCommand() *cobra.Command {
	var quiet, noTrunc bool
	var format string
	var filters []string
	cmd := newCommand("ls [OPTIONS]", "List networks", noArgs,
		func(cmd *cobra.Command, _ []string) error {
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			res, err := api.NetworkList(cmd.Context(), client.NetworkListOptions{Filters: f})
			if err != nil {
				return err
			}
			return writeList(c.out, listFormat{format: format, defaultTable: defaultNetworkTable, quiet: quiet, quietFormat: networkQuietFormat},
				networkRows(res.Items, !noTrunc))
		})
	cmd.Aliases = []string{"list"}
	fs := cmd.Flags()
	fs.StringArrayVarP(&filters, "filter", "f", nil, `Provide filter values (e.g. "driver=bridge")`)
	fs.StringVar(&format, "format", "", formatHelp)
	fs.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate the output")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only display network IDs")
	return cmd
}

func (c *CLI) newNetworkRmCommand() *cobra.Command {
	var force bool
	cmd := newCommand("rm NETWORK [NETWORK...]", "Remove one or more networks", minArgs(1),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			failed := false
			for _, name := range args {
				if _, err := api.NetworkRemove(cmd.Context(), name, client.NetworkRemoveOptions{}); err != nil {
					if force && cerrdefs.IsNotFound(err) {
						continue
					}
					fmt.Fprintln(c.err, err)
					failed = true
					continue
				}
				fmt.Fprintln(c.out, name)
			}
			if failed {
				// docker ends with this line after the per-network errors.
				return StatusError{Status: "exit status 1", StatusCode: 1}
			}
			return nil
		})
	cmd.Aliases = []string{"remove"}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}

func (c *CLI) newNetworkPruneCommand() *cobra.Command {
	var force, dryRun bool
	var filters []string
	cmd := newCommand("prune [OPTIONS]", "Remove all unused networks", noArgs,
		func(cmd *cobra.Command, _ []string) error {
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if dryRun {
				// The daemon validates filters of a real prune; here we must.
				pf, err := parsePruneFilters(filters, c.now())
				if err != nil {
					return err
				}
				names, err := networksToPrune(ctx, api, pf)
				if err != nil {
					return err
				}
				printSection(c.out, "Would delete Networks:", names)
				return nil
			}
			if !force && !c.confirm(networkPruneWarning) {
				return nil
			}
			res, err := api.NetworkPrune(ctx, client.NetworkPruneOptions{Filters: f})
			if err != nil {
				return err
			}
			printSection(c.out, "Deleted Networks:", res.Report.NetworksDeleted)
			return nil
		})
	fs := cmd.Flags()
	fs.StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fs.BoolVar(&dryRun, "dry-run", false, "List what would be removed, without removing anything")
	return cmd
}

// networksToPrune returns the names of the networks a network prune would
// remove now.
func networksToPrune(ctx context.Context, api *client.Client, pf pruneFilter) ([]string, error) {
	nets, err := api.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, err
	}
	cs, err := api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range selectNetworksToPrune(nets.Items, cs.Items, pf) {
		names = append(names, n.Name)
	}
	return names, nil
}

func (c *CLI) newNetworkConnectCommand() *cobra.Command {
	var ipv4, ipv6 string
	var aliases, driverOpts, linkLocal []string
	var links []string
	var gwPriority int
	cmd := newCommand("connect [OPTIONS] NETWORK CONTAINER", "Connect a container to a network", exactArgs(2),
		func(cmd *cobra.Command, args []string) error {
			dopts, err := parseDriverOpts(driverOpts)
			if err != nil {
				return err
			}
			ipam := &network.EndpointIPAMConfig{}
			if ipv4 != "" {
				if ipam.IPv4Address, err = netip.ParseAddr(ipv4); err != nil {
					return flagErrorFunc(cmd, fmt.Errorf("invalid argument %q for \"--ip\" flag: invalid string being converted to IP address: %s", ipv4, ipv4))
				}
			}
			if ipv6 != "" {
				if ipam.IPv6Address, err = netip.ParseAddr(ipv6); err != nil {
					return flagErrorFunc(cmd, fmt.Errorf("invalid argument %q for \"--ip6\" flag: invalid string being converted to IP address: %s", ipv6, ipv6))
				}
			}
			if ipam.LinkLocalIPs, err = parseAddrs("--link-local-ip", linkLocal); err != nil {
				return flagErrorFunc(cmd, err)
			}
			for _, l := range links {
				if err := validateLink(l); err != nil {
					return flagErrorFunc(cmd, fmt.Errorf("invalid argument %q for \"--link\" flag: %w", l, err))
				}
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			_, err = api.NetworkConnect(cmd.Context(), args[0], client.NetworkConnectOptions{
				Container: args[1],
				EndpointConfig: &network.EndpointSettings{IPAMConfig: ipam, Links: links, Aliases: aliases,
					DriverOpts: dopts, GwPriority: gwPriority},
			})
			return err
		})
	fs := cmd.Flags()
	fs.StringSliceVar(&aliases, "alias", nil, "Add network-scoped alias for the container")
	fs.StringSliceVar(&driverOpts, "driver-opt", nil, "driver options for the network")
	fs.IntVar(&gwPriority, "gw-priority", 0, "Highest gw-priority provides the default gateway. Accepts positive and negative values.")
	fs.StringVar(&ipv4, "ip", "", `IPv4 address (e.g., "172.30.100.104")`)
	fs.StringVar(&ipv6, "ip6", "", `IPv6 address (e.g., "2001:db8::33")`)
	fs.StringArrayVar(&links, "link", nil, "Add link to another container")
	fs.StringSliceVar(&linkLocal, "link-local-ip", nil, "Add a link-local address for the container")
	return cmd
}

func (c *CLI) newNetworkDisconnectCommand() *cobra.Command {
	var force bool
	cmd := newCommand("disconnect [OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network", exactArgs(2),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			_, err = api.NetworkDisconnect(cmd.Context(), args[0], client.NetworkDisconnectOptions{Container: args[1], Force: force})
			return err
		})
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	return cmd
}
