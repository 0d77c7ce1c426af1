// Package nft keeps berth's firewall, NAT and published ports in nftables,
// spoken over netlink (github.com/google/nftables); no nft or iptables
// binary and no userland proxy.
//
// # One table of our own
//
// Every rule lives in one table of the inet family, "inet berth" by
// default; Config.Table names it, so daemons side by side each have their
// own. The inet family serves IPv4 and IPv6 from one table and lets every
// change be a single atomic batch. Nothing outside that table is read,
// changed or deleted, and the table only ever drops or translates: it
// accepts nothing another table drops (a host whose own forward chain
// drops by default must allow berth's bridges itself).
//
//	table inet berth
//	  chain prerouting   nat    hook prerouting  prio -100  fib daddr type local jump ports
//	  chain output       nat    hook output      prio -100  fib daddr type local jump ports
//	  chain ports                                           DNAT per published host port
//	  chain postrouting  nat    hook postrouting prio  100  masquerade: outbound, hairpin, localhost
//	  chain forward      filter hook forward     prio    0  policy accept; isolation, --internal
//	  chain isolation                                       iifname <each berth bridge> drop
//
// # Rules per network
//
//   - outbound NAT: ip saddr <subnet> oifname != <bridge> masquerade
//   - hairpin: ip saddr <subnet> ip daddr <subnet> ct status dnat masquerade, so a
//     container reaches a published port of its own network through a host
//     address. With br_netfilter loaded (built into berth's kernels, and
//     bridge-nf-call-iptables is on in every new namespace) the DNAT happens
//     at the bridge layer and the frame goes back out of the port it came
//     in, so the bridge driver must also set hairpin mode on each container's
//     bridge port (netlink.LinkSetHairpin), as dockerd does without its proxy
//   - localhost: oifname <bridge> ip saddr 127.0.0.0/8 masquerade, with
//     route_localnet on the bridge (RouteLocalnet), so 127.0.0.1:port works
//   - isolation: traffic into the bridge from another berth bridge jumps to
//     the isolation chain and is dropped, unless it was DNATed (a published
//     port is public to anyone who reaches the host)
//   - --internal: no NAT, and forward drops everything leaving or entering
//     the bridge; the host itself still reaches it
//
// # Rules per container
//
// One DNAT rule per published host port in the ports chain: [ip daddr
// <host ip>] meta l4proto <proto> th dport <port> dnat to <container>:<port>.
// Both prerouting (traffic from other hosts and from containers) and output
// (the host itself, 127.0.0.1 included) jump there.
//
// # Ownership
//
// Each rule carries a tag in its comment ("berth net=NAME", "berth ctr=ID
// net=NAME", "berth static"), visible in `nft list table inet berth`.
// AddNetwork and AddContainer replace the rules of their owner,
// RemoveNetwork and RemoveContainer delete exactly them, each in one batch.
// Rebuild replaces the whole table with a desired Ruleset atomically, for a
// daemon that restarts.
//
// # Not done here
//
// No IPv6-to-IPv4 port mapping ([::]:80 to an IPv4-only container needs a
// proxy) and no [::1] publishing (IPv6 has no route_localnet). Direct
// routed access from the LAN to container addresses is not blocked.
// Conntrack entries outlive the rules: whoever removes a container should
// flush its UDP flows, or a client that keeps sending keeps its old DNAT.
// Sysctls (IPForward, RouteLocalnet) act on the calling thread's namespace.
package nft
