package testutil

import (
	"os"
	"runtime"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
)

// Nft requires root and an nftables kernel with NAT: it creates a table with
// a nat chain in a throwaway network namespace, so the host's rules are not
// touched.
var Nft = Prereq{"nftables (root, netns, nf_tables with nat)", func() bool {
	if os.Geteuid() != 0 {
		return false
	}
	ok := make(chan bool, 1)
	go func() {
		// The thread is never unlocked: it leaves the throwaway namespace
		// by exiting with the goroutine.
		runtime.LockOSThread()
		ns, err := netns.New()
		if err != nil {
			ok <- false
			return
		}
		defer ns.Close()
		c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
		if err != nil {
			ok <- false
			return
		}
		t := c.AddTable(&nftables.Table{Name: "probe", Family: nftables.TableFamilyINet})
		c.AddChain(&nftables.Chain{Name: "p", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
		ok <- c.Flush() == nil
	}()
	return <-ok
}}
