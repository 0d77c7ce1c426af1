// Package ipam decides berth's network subnets and endpoint addresses the
// way dockerd's default IPAM does, as pure functions of a State.
//
// # What it owns
//
// Subnet choice: user subnets (--subnet, --ip-range, --gateway, IPv6 too)
// are checked against every other berth network (ErrPoolOverlap); networks
// without one get the first free subnet of the default address pools
// (DefaultPools, or --default-address-pool), skipping other berth networks
// and the host's routes and addresses, which the caller reads with netlink
// and passes in as NetworkRequest.Exclude. The default bridge honours --bip
// and --fixed-cidr (Config.DefaultBridge).
//
// Addresses: the lowest free address of the range, as dockerd hands them
// out; fixed addresses (--ip, --ip6) anywhere in a user subnet. The network
// address, the IPv4 broadcast address and the gateway are never handed out,
// and an address is held by one owner until released.
//
// # Decisions and effects
//
// State methods are functions (State, request) → (State, result): they
// never modify their receiver and do no I/O. Allocator is the thin loop
// that applies them: it saves the next State through a Store before
// answering, so an address handed out is on disk first and a restarted
// daemon never hands it out again.
//
// # What it does not do
//
// It configures no interfaces, reads no routes and opens no files; the
// network driver does that and persists State through the metadata store.
package ipam
