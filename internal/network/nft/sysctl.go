package nft

import (
	"fmt"
	"os"
	"path/filepath"
)

// Kernel settings the rules rely on. /proc/sys/net belongs to the network
// namespace of the thread that opens the file, so these act on the calling
// thread's namespace (the host's, for berthd).

// RouteLocalnet sets net.ipv4.conf.<bridge>.route_localnet=1, which
// published ports need to answer on 127.0.0.1: the output chain DNATs
// 127.0.0.1:port to the container, and the kernel drops a packet with a
// loopback source routed out of (and its answer routed in from) a
// non-loopback interface unless the interface allows it. The postrouting
// masquerade of 127.0.0.0/8 towards the bridge then gives the container an
// address it can answer. dockerd sets the same flag on its bridge when it
// runs without the userland proxy.
func RouteLocalnet(bridge string) error {
	if err := validIfname(bridge); err != nil {
		return err
	}
	return writeSysctl(filepath.Join("/proc/sys/net/ipv4/conf", bridge, "route_localnet"), "1")
}

// IPForward turns on forwarding (net.ipv4.ip_forward, and with ipv6
// net.ipv6.conf.all.forwarding), as dockerd's --ip-forward does: without it
// neither DNAT to a container nor its outbound NAT moves a packet.
func IPForward(ipv6 bool) error {
	if err := writeSysctl("/proc/sys/net/ipv4/ip_forward", "1"); err != nil {
		return err
	}
	if ipv6 {
		return writeSysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")
	}
	return nil
}

func writeSysctl(path, value string) error {
	if cur, err := os.ReadFile(path); err == nil && string(cur) == value+"\n" {
		return nil // already set; also spares a read-only /proc/sys
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("nft: sysctl %s=%s: %w", path, value, err)
	}
	return nil
}
