// Package network is berth's single-host networking as Docker users know
// it: the predefined networks (bridge, host, none), user-defined bridge
// networks, each container's sandbox (its network namespace, endpoints,
// published ports and embedded DNS), and their persistence.
//
// It composes its building blocks: ipam (addresses), bridge and netns
// (devices and namespaces), nft (berth's own nftables table: NAT, port
// publishing without a userland proxy, isolation) and dns (the resolver at
// 127.0.0.11 on user-defined networks).
//
// # State
//
// Network records and the IPAM state live in the metadata bucket
// "networks"; each running container's sandbox in "sandboxes", so a
// restarted daemon rebuilds its firewall table and DNS servers from them.
// A sandbox's namespace is a bind mount at <exec-root>/netns/<id>; deleting
// it lets the kernel reap the veth pair.
package network
