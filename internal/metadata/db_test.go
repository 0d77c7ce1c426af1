package metadata

import (
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"
)

func TestDB_JSONRoundTripAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct{ Name string }
	if err := db.Update(func(tx *bolt.Tx) error { return PutJSON(tx, BucketContainers, "a", rec{"x"}) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got rec
	err = db.View(func(tx *bolt.Tx) error { return GetJSON(tx, BucketContainers, "a", &got) })
	if err != nil || got.Name != "x" {
		t.Fatalf("got %+v, %v", got, err)
	}
	err = db.View(func(tx *bolt.Tx) error { return GetJSON(tx, BucketContainers, "missing", &got) })
	if !errdefs.IsNotFound(err) {
		t.Fatalf("missing key: %v", err)
	}
	n := 0
	_ = db.View(func(tx *bolt.Tx) error {
		return ForEach(tx, BucketContainers, func(string, []byte) error { n++; return nil })
	})
	if n != 1 {
		t.Fatalf("ForEach saw %d", n)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return Delete(tx, BucketContainers, "a") }); err != nil {
		t.Fatal(err)
	}
}
